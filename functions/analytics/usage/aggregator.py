"""Entry of the usage aggregator: SQS batches of S3 event notifications, one per delivered access-log
object; each object is folded into the aggregates exactly once (functions/analytics/usage/logic.py).
A failing object is reported as a partial batch failure and retried alone (then the DLQ).

Metrics (namespace Skyreel, service skyreel-analytics-usage-aggregator): `ApiRequests`, `ApiClientErrors`,
`ApiServerErrors` (counts of recorded API requests), `ApiLatencyP99` and `ApiLatencyMax` (ms, per
delivered object), `UsageRecordsMalformed`, `UsageRecordsUnattributed`, `UsageRedeliveries` (parts
skipped as already applied)."""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.analytics.usage import wiring
from functions.analytics.usage.logic import IngestOutcome
from functions.analytics.usage.settings import AggregatorSettings
from functions.analytics.usage.sketches import quantile
from functions.shared.observability import count, logger, metrics

Settings = AggregatorSettings
processor = BatchProcessor(event_type=EventType.SQS)


def objects_in(body: str) -> list[tuple[str, str]]:
    """(bucket, key) of each object an S3 notification names; none for S3's `s3:TestEvent`."""
    notification = json.loads(body)
    return [
        (r["s3"]["bucket"]["name"], urllib.parse.unquote_plus(r["s3"]["object"]["key"]))
        for r in notification.get("Records", [])
        if str(r.get("eventName", "")).startswith("ObjectCreated")
    ]


def _measure(outcome: IngestOutcome) -> None:
    count("ApiRequests", outcome.records)
    count("ApiClientErrors", outcome.client_errors)
    count("ApiServerErrors", outcome.server_errors)
    count("UsageRecordsMalformed", outcome.malformed)
    count("UsageRecordsUnattributed", outcome.records - outcome.attributed)
    count("UsageRedeliveries", outcome.parts_skipped)
    p99 = quantile(outcome.latency.sketch, 0.99)
    if p99 is not None:
        metrics.add_metric(name="ApiLatencyP99", unit=MetricUnit.Milliseconds, value=p99)
        metrics.add_metric(
            name="ApiLatencyMax", unit=MetricUnit.Milliseconds, value=outcome.latency.sketch._max
        )


def handle_record(record: SQSRecord) -> None:
    for bucket, key in objects_in(record.body):
        outcome = wiring.ingest().ingest(bucket, key)
        _measure(outcome)
        logger.info(
            "usage object folded",
            extra={"key": key, "records": outcome.records, "skipped_parts": outcome.parts_skipped},
        )


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    wiring.aggregator_settings()
    response = process_partial_response(
        event=event, record_handler=handle_record, processor=processor, context=context
    )
    return dict(response)
