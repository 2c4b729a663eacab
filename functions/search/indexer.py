"""Entry of the search indexer: the videos table's stream -> the index (and, on demand, a rebuild).

One writer (reserved concurrency 1). Each stream batch becomes one new index version; a record that
cannot be read is reported as a batch item failure (the stream retries from it, then its DLQ takes it),
and a failure to publish fails the whole batch so it is delivered again. `{"action": "reindex"}` (the
`make reindex` command, or a manual invoke in AWS) rebuilds the index from the table; stream batches
wait behind it (the same function, one at a time) and then apply on top, so nothing is lost.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.search import wiring
from functions.search.documents import change_for
from functions.search.models import Change
from functions.search.settings import IndexerSettings
from functions.shared.observability import count, logger, metrics
from functions.videos.dal import video_from_image

Settings = IndexerSettings
REINDEX = "reindex"


def change_from(record: DynamoDBRecord) -> Change | None:
    """What a stream record means for the index; None for items that are not videos."""
    raw = record.raw_event.get("dynamodb", {})
    before, after = video_from_image(raw.get("OldImage")), video_from_image(raw.get("NewImage"))
    video = after or before
    if video is None:
        return None
    return change_for(video.id, after)


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    wiring.indexer_settings()
    if event.get("action") == REINDEX:
        documents = wiring.indexer().rebuild(wiring.catalogue())
        logger.info("index rebuilt", extra={"documents": documents})
        return {"documents": documents}
    changes: list[Change] = []

    def collect(record: DynamoDBRecord) -> None:
        change = change_from(record)
        if change is not None:
            changes.append(change)

    response = process_partial_response(
        event=event,
        record_handler=collect,
        processor=BatchProcessor(event_type=EventType.DynamoDBStreams),
        context=context,
    )
    wiring.indexer().apply(changes)  # raises: the whole batch is delivered again
    count("SearchIndexChanges", len(changes))
    return dict(response)
