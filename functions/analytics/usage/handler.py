"""HTTP entry of the usage API (`analytics_usage`): a caller's own API usage, from the aggregates.

Every route takes `from` and `to` (UTC dates, both included; default: the 30 days up to today); a
reversed range or one over 366 days is 422. A key the caller did not make is 404."""

# No `from __future__ import annotations` here: powertools reads route annotations at runtime.
import csv
import io
from datetime import UTC, date, datetime
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.analytics.usage import wiring
from functions.analytics.usage.logic import date_range
from functions.analytics.usage.models import (
    EXPORT_FIELDS,
    DailyUsage,
    EndpointUsage,
    Format,
    UsageExport,
    UsageSummary,
)
from functions.analytics.usage.settings import UsageApiSettings
from functions.shared.api import create_resolver
from functions.shared.contract import PROTECTED, documented
from functions.shared.errors import ValidationFailedError
from functions.shared.observability import logger, metrics, tracer
from functions.shared.principal import caller_from
from functions.shared.vocabulary import API_PREFIX

Settings = UsageApiSettings
app = create_resolver()
ANALYTICS = f"{API_PREFIX}/analytics"
TAGS = ["usage analytics"]
RANGE_422 = (
    "A date that is not YYYY-MM-DD, `from` after `to`, a range over 366 days, or an unknown format "
    "(`validation_failed`)"
)
KEY_404 = "No such API key, or not yours (`not_found`)"

# Dates as YYYY-MM-DD strings, parsed by the logic: a `date` query parameter would also take a Unix time
# ("0" was 1970-01-01), which the document does not offer.
DAY = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
From = Annotated[
    str | None,
    Query(
        alias="from",
        pattern=DAY,
        description="First day (UTC, YYYY-MM-DD), included",
        json_schema_extra={"format": "date"},
    ),
]
To = Annotated[
    str | None,
    Query(
        pattern=DAY,
        description="Last day (UTC, YYYY-MM-DD), included; default today",
        json_schema_extra={"format": "date"},
    ),
]
KeyId = Annotated[str, Path(min_length=1, max_length=64, description="The API key's id")]


def _user() -> str:
    return caller_from(app.current_event.request_context.raw_event).user_id


def _range(first: str | None, last: str | None) -> tuple[date, date]:
    return date_range(_day(first, "from"), _day(last, "to"), datetime.now(UTC).date())


def _day(value: str | None, name: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValidationFailedError(
            f"`{name}` is not a day of the calendar.",
            details=[{"location": f"query.{name}", "message": "a YYYY-MM-DD date", "type": "date"}],
        ) from None


@app.get(
    f"{ANALYTICS}/usage",
    operation_id="getUsage",
    summary="Your API usage over a range: requests, success rate, errors, latency percentiles",
    tags=TAGS,
    responses=documented(200, UsageSummary, "Your usage", protected=True, errors={422: RANGE_422}),
    security=PROTECTED,
)
def usage(from_: From = None, to: To = None) -> UsageSummary:
    return wiring.queries().summary(_user(), *_range(from_, to))


@app.get(
    f"{ANALYTICS}/usage/daily",
    operation_id="getDailyUsage",
    summary="Your API usage per day (every day of the range)",
    tags=TAGS,
    responses=documented(200, DailyUsage, "Your usage per day", protected=True, errors={422: RANGE_422}),
    security=PROTECTED,
)
def usage_daily(from_: From = None, to: To = None) -> DailyUsage:
    return wiring.queries().daily(_user(), *_range(from_, to))


@app.get(
    f"{ANALYTICS}/usage/endpoints",
    operation_id="getEndpointUsage",
    summary="Your API usage per route (method and route template), busiest first",
    tags=TAGS,
    responses=documented(200, EndpointUsage, "Your usage per route", protected=True, errors={422: RANGE_422}),
    security=PROTECTED,
)
def usage_endpoints(from_: From = None, to: To = None) -> EndpointUsage:
    return wiring.queries().endpoints(_user(), *_range(from_, to))


@app.get(
    f"{ANALYTICS}/api-keys/<key_id>/usage",
    operation_id="getApiKeyUsage",
    summary="One of your API keys' usage over a range",
    tags=TAGS,
    responses=documented(
        200, UsageSummary, "The key's usage", path=True, protected=True, errors={404: KEY_404, 422: RANGE_422}
    ),
    security=PROTECTED,
)
def key_usage(key_id: KeyId, from_: From = None, to: To = None) -> UsageSummary:
    return wiring.queries().summary(_user(), *_range(from_, to), api_key_id=key_id)


@app.get(
    f"{ANALYTICS}/api-keys/<key_id>/usage/daily",
    operation_id="getApiKeyDailyUsage",
    summary="One of your API keys' usage per day",
    tags=TAGS,
    responses=documented(
        200,
        DailyUsage,
        "The key's usage per day",
        path=True,
        protected=True,
        errors={404: KEY_404, 422: RANGE_422},
    ),
    security=PROTECTED,
)
def key_usage_daily(key_id: KeyId, from_: From = None, to: To = None) -> DailyUsage:
    return wiring.queries().daily(_user(), *_range(from_, to), api_key_id=key_id)


EXPORT_RESPONSES = documented(
    200,
    UsageExport,
    "JSON (`format=json`), or `text/csv` with the same fields as columns and a header row (`format=csv`)",
    protected=True,
    errors={422: RANGE_422},
)
EXPORT_RESPONSES[200]["content"]["text/csv"] = {
    "schema": {"type": "string", "description": f"CSV; header: {','.join(EXPORT_FIELDS)}"}
}


def to_csv(export: UsageExport) -> str:
    """The rows with a header row (RFC 4180, CRLF line ends: what spreadsheets open); an absent figure
    (no requests) is an empty cell."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=EXPORT_FIELDS)
    writer.writeheader()
    for row in export.rows:
        writer.writerow(row.model_dump(mode="json"))
    return out.getvalue()


@app.get(
    f"{ANALYTICS}/export",
    operation_id="exportUsage",
    summary="Your usage per day, key and route, as CSV (with a header row) or JSON",
    description="The grain of the aggregates; totals per day or per key are the sums of its rows.",
    tags=TAGS,
    responses=EXPORT_RESPONSES,
    security=PROTECTED,
)
def export(
    format: Annotated[Format, Query(description="`csv` or `json`")], from_: From = None, to: To = None
) -> Any:
    first, last = _range(from_, to)
    result = wiring.queries().export(_user(), first, last)
    if format is Format.JSON:
        return result
    return Response(
        status_code=200,
        content_type="text/csv; charset=utf-8",
        body=to_csv(result),
        headers={"Content-Disposition": f'attachment; filename="usage-{first}-{last}.csv"'},
    )


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, log_event=False)
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    wiring.api_settings()  # the whole environment is checked on the first invocation
    return app.resolve(event, context)
