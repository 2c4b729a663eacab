"""Upload notifications (S3 -> SQS -> here), in batches with partial failure: one bad record does not
hold back the others, and a failing one is retried until the queue's DLQ takes it."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.shared.observability import logger, metrics
from functions.videos import wiring
from functions.videos.settings import IngestSettings

Settings = IngestSettings  # this function's environment (functions/videos/settings.py)

processor = BatchProcessor(event_type=EventType.SQS)


def handle_record(record: SQSRecord) -> None:
    notification = json.loads(record.body)
    if notification.get("Event") == "s3:TestEvent":  # S3 sends one when notifications are configured
        return
    for s3_record in notification.get("Records", []):
        if not s3_record.get("eventName", "").startswith("ObjectCreated:"):
            continue
        obj = s3_record["s3"]["object"]
        key = unquote_plus(obj["key"])  # S3 URL-encodes keys in notifications
        outcome = wiring.ingest().object_created(key, int(obj.get("size", 0)), obj.get("eTag", ""))
        logger.info("upload notification", extra={"key": key, "outcome": outcome})


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    wiring.settings(Settings)
    response = process_partial_response(
        event=event, record_handler=handle_record, processor=processor, context=context
    )
    return dict(response)
