"""The publish workflow's record steps (infra/workflows/publish.asl.json): claim, mark_ready, mark_failed,
each one call to the use case (functions/videos/logic.py `Publishing`). Output shapes are the ones the
state machine reads: the claim's dict at `$.claim`, `{"outcome": ...}` for the others."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from functions.shared.observability import logger, metrics
from functions.shared.steps import WorkflowSteps
from functions.videos import wiring
from functions.videos.settings import PublishStepsSettings

Settings = PublishStepsSettings  # this function's environment (functions/videos/settings.py)


class PublishPayload(BaseModel):
    """Every step's input: {"step", "video_id", "attempt"?, ...} (the execution id is the attempt)."""

    step: str
    video_id: str
    attempt: str | None = None
    etag: str | None = None  # claim; mark_failed when the claim itself failed
    output: dict[str, Any] | None = None  # mark_ready: what the transcoder made
    media_prefix: str | None = None  # mark_failed: where the run wrote
    error: dict[str, Any] | None = None  # mark_failed: what failed
    claimed: bool = True  # mark_failed: False when the claim step itself failed


STEPS = WorkflowSteps("publish", PublishPayload)


@STEPS.step("claim")
def claim(payload: PublishPayload) -> dict[str, Any]:
    if payload.etag is None:
        raise ValueError("claim needs the uploaded file's etag")
    return wiring.publishing().claim(payload.video_id, payload.etag, payload.attempt)


@STEPS.step("mark_ready")
def mark_ready(payload: PublishPayload) -> dict[str, Any]:
    if payload.output is None:
        raise ValueError("mark_ready needs the transcoder's output")
    return {"outcome": wiring.publishing().mark_ready(payload.video_id, payload.output, payload.attempt)}


@STEPS.step("mark_failed")
def mark_failed(payload: PublishPayload) -> dict[str, Any]:
    outcome = wiring.publishing().mark_failed(
        payload.video_id,
        payload.media_prefix,
        payload.error or {},
        attempt=payload.attempt,
        claimed=payload.claimed,
        etag=payload.etag,
    )
    return {"outcome": outcome}


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> Any:
    wiring.settings(Settings)
    result = STEPS.handle(event)
    logger.info("publish step", extra={"step": event.get("step"), "result": result})
    return result
