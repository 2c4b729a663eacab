"""Entry of the search jobs worker: SQS batches of `{"job_id"}`, each run once (partial batch failures:
a job whose search hit a failing dependency goes back to queued and its message is retried)."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.search import wiring
from functions.search.settings import JobWorkerSettings
from functions.shared.observability import logger, metrics

Settings = JobWorkerSettings
processor = BatchProcessor(event_type=EventType.SQS)


def handle_record(record: SQSRecord) -> None:
    job_id = str(json.loads(record.body)["job_id"])
    outcome = wiring.worker_jobs().run(job_id)
    logger.info("search job", extra={"job_id": job_id, "outcome": outcome})


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    wiring.worker_settings()
    response = process_partial_response(
        event=event, record_handler=handle_record, processor=processor, context=context
    )
    return dict(response)
