"""The transcode function (a container image in AWS; the pip-installed FFmpeg locally): the publish
workflow's transcode steps (infra/workflows/publish.asl.json), dispatched by name. The use cases are
in pipeline.py; what each step returns is what the workflow's next state reads.

- `plan`: {"chunked": false} or the chunk plan the Map runs;
- `whole`: the whole source in one invocation -> what MarkReady stores;
- `chunk`: one chunk of a long source -> {"index", "codecs", "media_prefix"};
- `finish`: the chunked source's audio, playlists and pictures -> what MarkReady stores.
"""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.shared.observability import logger, metrics
from functions.shared.steps import WorkflowSteps
from functions.transcode import wiring
from functions.transcode.models import TranscodePayload
from functions.transcode.settings import TranscodeSettings

Settings = TranscodeSettings

STEPS = WorkflowSteps("publish.transcode", TranscodePayload)


@STEPS.step("plan")
def plan(payload: TranscodePayload) -> dict[str, Any]:
    return wiring.pipeline().plan(payload.key, payload.video_id)


@STEPS.step("whole")
def whole(payload: TranscodePayload) -> dict[str, Any]:
    return wiring.pipeline().transcode(payload.run())


@STEPS.step("chunk")
def chunk(payload: TranscodePayload) -> dict[str, Any]:
    return wiring.pipeline().encode_chunk(payload.run(), payload.planned(), payload.planned_chunk())


@STEPS.step("finish")
def finish(payload: TranscodePayload) -> dict[str, Any]:
    return wiring.pipeline().finish(payload.run(), payload.planned(), payload.chunk_results())


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    os.environ.setdefault("TMPDIR", wiring.settings().work_dir)
    if "step" not in event:  # an execution started before the definition named its steps `step`
        event = {**event, "step": event.get("mode", "whole")}
    result: dict[str, Any] = STEPS.handle(event)
    return result
