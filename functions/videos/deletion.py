"""The delete saga's task function (infra/workflows/video_delete.asl.json): one step per invocation, named
by the state machine, each one call to the saga's use case (functions/videos/logic.py `Deletion`)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from functions.shared.observability import logger, metrics
from functions.shared.steps import WorkflowSteps
from functions.videos import wiring
from functions.videos.settings import DeleteStepsSettings

Settings = DeleteStepsSettings  # this function's environment (functions/videos/settings.py)


class VideoRef(BaseModel):
    id: str
    owner_id: str


class DeletePayload(BaseModel):
    """The state machine's input to every step: {"step", "video": {"id", "owner_id"}, "error"?}."""

    step: str
    video: VideoRef
    error: dict[str, Any] | None = None  # RecordFailure: what the failed step raised


STEPS = WorkflowSteps("video_delete", DeletePayload)


def _done(step: str, result: Any = None) -> dict[str, Any]:
    return {"step": step, "result": result}


@STEPS.step("mark_deleting")
def mark_deleting(payload: DeletePayload) -> dict[str, Any]:
    wiring.deletion().mark_deleting(payload.video.id)
    return _done(payload.step)


@STEPS.step("delete_objects")
def delete_objects(payload: DeletePayload) -> dict[str, Any]:
    return _done(payload.step, wiring.deletion().delete_objects(payload.video.id))


@STEPS.step("publish_deleted")
def publish_deleted(payload: DeletePayload) -> dict[str, Any]:
    wiring.deletion().publish_deleted(payload.video.id, payload.video.owner_id)
    return _done(payload.step)


@STEPS.step("delete_record")
def delete_record(payload: DeletePayload) -> dict[str, Any]:
    wiring.deletion().delete_record(payload.video.id)
    return _done(payload.step)


@STEPS.step("record_failure")
def record_failure(payload: DeletePayload) -> dict[str, Any]:
    wiring.deletion().record_failure(payload.video.id, payload.error or {})
    return _done(payload.step)


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> Any:
    wiring.settings(Settings)
    return STEPS.handle(event)
