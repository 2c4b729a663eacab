"""Entry of the projector: the view event store's stream -> the read models; and, on demand, a replay.

One writer (reserved concurrency 1): stream batches and a replay run one after another. A record that is
not an event is skipped; one that cannot be read is reported as a batch item failure (retried, then the
trigger's on-failure queue takes it); a failure while folding or writing fails the whole batch so it is
delivered again, and what was already committed is found in and not counted twice.
`{"action": "replay"}` (`make replay-analytics`, or an invoke in AWS) rebuilds every read model from the
event store.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.analytics.viewing import wiring
from functions.analytics.viewing.dal import event_from_image
from functions.analytics.viewing.logic import replay
from functions.analytics.viewing.ports import ViewEvent
from functions.analytics.viewing.settings import ProjectorSettings
from functions.shared.observability import count, logger, metrics

Settings = ProjectorSettings
REPLAY = "replay"


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    wiring.projector_settings()
    if event.get("action") == REPLAY:
        outcome = replay(wiring.event_store(), wiring.read_models())
        logger.info("read models rebuilt", extra=outcome)
        return outcome
    events: list[ViewEvent] = []

    def collect(record: DynamoDBRecord) -> None:
        raw = record.raw_event.get("dynamodb", {})
        found = event_from_image(raw.get("NewImage"))
        if found is not None:
            events.append(found)

    response = process_partial_response(
        event=event,
        record_handler=collect,
        processor=BatchProcessor(event_type=EventType.DynamoDBStreams),
        context=context,
    )
    changed = wiring.projector().project(events)  # raises: the whole batch is delivered again
    count("ViewEventsProjected", len(events))
    count("ViewSessionsChanged", changed)
    return dict(response)
