"""The delete saga's task function: one step per invocation, named by the state machine.

Input: {"step": "<name>", "video": {"id", "owner_id"}, "error"?: {...}}.
"""

from __future__ import annotations

import functools
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.shared.events import EventPublisher
from functions.shared.observability import logger, metrics
from functions.videos import settings
from functions.videos.dal import VideoRepository
from functions.videos.logic import Deletion
from functions.videos.storage import UploadStore, delete_prefix


@functools.cache
def _deletion() -> Deletion:
    s = settings.settings()
    return Deletion(
        VideoRepository(s.table),
        UploadStore(settings.require(s.uploads_bucket, "the uploads bucket")),
        settings.require(s.media_bucket, "the media bucket"),
        delete_prefix,
        EventPublisher(settings.require(s.event_bus, "the event bus"), "videos"),
        settings.media_cache(),
    )


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    step, video = event["step"], event["video"]
    logger.info("delete step", extra={"step": step, "video_id": video["id"]})
    deletion = _deletion()
    result: Any = None
    if step == "mark_deleting":
        deletion.mark_deleting(video["id"])
    elif step == "delete_objects":
        result = deletion.delete_objects(video["id"])
    elif step == "delete_record":
        deletion.delete_record(video["id"])
    elif step == "publish_deleted":
        deletion.publish_deleted(video["id"], video["owner_id"])
    elif step == "record_failure":
        deletion.record_failure(video["id"], event.get("error") or {})
    else:
        raise ValueError(f"unknown delete step {step!r}")
    return {"step": step, "result": result}
