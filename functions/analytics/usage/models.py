"""The access record (what the API stage logs for every request), the aggregate's grain, and the usage
API's requests and responses. API rules are stated on the fields."""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

MAX_RANGE_DAYS = 366  # a range may span at most a year (a leap year's 366 days, both ends included)
NO_KEY = "-"  # the key dimension of requests made with a bearer token rather than an API key


def _absent_as_none(value: Any) -> Any:
    """API Gateway writes `-` for a context variable with no value (an anonymous request's user)."""
    return None if value in ("-", "", None) else value


Optional = Annotated[str | None, BeforeValidator(_absent_as_none)]


# The API stage's access log format (infra/aws/api.py): a JSON object per request, every value quoted so
# an absent one is "-", never broken JSON. The local gateway writes the same keys (infra/local/accesslog.py).
ACCESS_LOG_FORMAT = {
    "requestId": "$context.requestId",
    "requestTimeEpoch": "$context.requestTimeEpoch",
    "httpMethod": "$context.httpMethod",
    "resourcePath": "$context.resourcePath",
    "status": "$context.status",
    "responseLatency": "$context.responseLatency",
    "userId": "$context.authorizer.user_id",
    "apiKeyId": "$context.authorizer.api_key_id",
}


class AccessRecord(BaseModel):
    """One API request as the gateway saw it: the stage's access log format (infra/aws/api.py writes
    every value quoted, so a missing one is `"-"`, never broken JSON; the local gateway writes the same)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    request_id: str = Field(alias="requestId", min_length=1)
    time_ms: int = Field(alias="requestTimeEpoch", ge=0)  # when the gateway received it (epoch ms)
    method: str = Field(alias="httpMethod")
    route: Optional = Field(alias="resourcePath")  # the route template; absent for an unknown path
    status: int = Field(alias="status", ge=100, le=599)
    latency_ms: float = Field(alias="responseLatency", ge=0)
    user_id: Optional = Field(default=None, alias="userId")
    api_key_id: Optional = Field(default=None, alias="apiKeyId")

    @property
    def day(self) -> date:
        return datetime.fromtimestamp(self.time_ms / 1000, UTC).date()

    @property
    def status_class(self) -> str:
        return f"{self.status // 100}xx"


class Format(StrEnum):
    CSV = "csv"
    JSON = "json"


class Figures(BaseModel):
    """What every usage answer says about a set of requests. Percentiles come from merged DDSketches:
    each within 1% of the exact value (functions/analytics/usage/sketches.py)."""

    total_requests: int = Field(description="Requests recorded")
    success_rate: float | None = Field(
        description="Share of responses below 400 (0..1); null with no requests"
    )
    client_errors: int = Field(description="Responses 400-499")
    server_errors: int = Field(description="Responses 500-599")
    avg_ms: float | None = Field(description="Mean latency as the gateway saw it, ms")
    p50_ms: float | None = Field(description="Median latency, ms (within 1%)")
    p95_ms: float | None = Field(description="95th percentile latency, ms (within 1%)")
    p99_ms: float | None = Field(description="99th percentile latency, ms (within 1%)")


class UsageSummary(Figures):
    model_config = ConfigDict(populate_by_name=True)

    from_: date = Field(alias="from", description="First day (UTC), included")
    to: date = Field(description="Last day (UTC), included")
    api_key_id: str | None = Field(default=None, description="The key, for a key's usage")


class DailyRow(Figures):
    date: date


class DailyUsage(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: date = Field(alias="from")
    to: date
    api_key_id: str | None = None
    days: list[DailyRow] = Field(
        description="Every day of the range, oldest first, days without requests too"
    )


class EndpointRow(Figures):
    method: str
    route: str = Field(description="The route template, e.g. `/api/v1/videos/{video_id}`")


class EndpointUsage(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: date = Field(alias="from")
    to: date
    endpoints: list[EndpointRow] = Field(description="Busiest first")


class ExportRow(Figures):
    """One day x key x route: the export's grain (a CSV row; the header names these fields)."""

    date: date
    api_key_id: str = Field(description="The API key's id, or `-` for requests with a bearer token")
    method: str
    route: str


EXPORT_FIELDS = ("date", "api_key_id", "method", "route", *Figures.model_fields)  # the CSV header


class UsageExport(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: date = Field(alias="from")
    to: date
    rows: list[ExportRow]
