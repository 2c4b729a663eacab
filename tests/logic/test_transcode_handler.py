"""The transcode function's entry point (functions/transcode/handler.py): the publish workflow's
transcode steps dispatched by name to the pipeline (on fakes here), with the inputs the workflow
definition sends and the outputs its next states read."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from functions.shared.steps import UnknownStep
from functions.transcode import handler, wiring
from functions.transcode.pipeline import TranscodePipeline, Tunables
from functions.transcode.probe import SourceInfo
from tests.fakes.shared import RecordingEvents
from tests.fakes.transcode import FakeEngine, FakeMediaStore, FakeRunRecords

ROOT = Path(__file__).resolve().parents[2]
KEY = "originals/v1/clip.mp4"
CLAIM = {"video_id": "v1", "key": KEY, "media_prefix": "public/hls/v1/", "private_prefix": "hls/v1/"}


class LambdaContext:
    function_name = "skyreel-transcode"
    memory_limit_in_mb = 10240
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:skyreel-transcode"
    aws_request_id = "req-1"


@pytest.fixture
def media(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[FakeMediaStore]:
    """The function's environment, and its pipeline on fakes: a 26 s source, chunked (over 20 s)."""
    for name, value in {
        "VIDEOS_TABLE_NAME": "videos",
        "UPLOADS_BUCKET_NAME": "uploads",
        "MEDIA_BUCKET_NAME": "media",
        "EVENTS_EVENT_BUS_NAME": "bus",
        "TRANSCODE_WORK_DIR": str(tmp_path),
    }.items():
        monkeypatch.setenv(name, value)
    wiring.reset()
    store = FakeMediaStore({KEY: b"the original"})
    records = FakeRunRecords()
    records.seed("v1", attempt="run-1", visibility="public", progress=0)
    pipeline = TranscodePipeline(
        store,
        records,
        RecordingEvents(),
        FakeEngine(SourceInfo(26, 640, 360, 0, 25, True, "h264", None)),
        Tunables(str(tmp_path), chunk_threshold_s=20, chunk_s=12),
    )
    monkeypatch.setattr(wiring, "pipeline", lambda: pipeline)
    yield store
    wiring.settings.cache_clear()  # `pipeline` is put back by monkeypatch


def invoke(event: dict[str, Any]) -> Any:
    return handler.lambda_handler(event, LambdaContext())


def test_the_chunked_steps_take_what_the_workflow_sends_and_return_what_it_reads(
    media: FakeMediaStore,
) -> None:
    plan = invoke({"step": "plan", "video_id": "v1", "key": KEY})
    assert plan["chunked"]
    assert set(plan) == {"chunked", "info", "renditions", "chunks"}
    results = [
        invoke({"step": "chunk", **CLAIM, "plan": plan, "chunk": item, "attempt": "run-1"})
        for item in plan["chunks"]
    ]
    assert [set(r) for r in results] == [{"index", "codecs", "media_prefix"}] * 3
    output = invoke({"step": "finish", **CLAIM, "plan": plan, "chunks": results, "attempt": "run-1"})
    assert set(output) == {"media_prefix", "duration_s", "width", "height", "renditions", "chunks"}
    json.dumps(output)  # what the state machine carries must be JSON


def test_the_whole_step_returns_what_mark_ready_stores(media: FakeMediaStore) -> None:
    output = invoke({"step": "whole", **CLAIM, "attempt": "run-1"})
    assert set(output) == {"media_prefix", "duration_s", "width", "height", "renditions"}
    assert output["media_prefix"] == "public/hls/v1/"
    assert media.fetched == [KEY]


def test_an_execution_from_before_steps_were_named_still_runs(media: FakeMediaStore) -> None:
    assert invoke({"mode": "plan", "video_id": "v1", "key": KEY})["chunked"]
    assert "renditions" in invoke({**CLAIM, "attempt": "run-1"})  # no mode at all: the whole source


def test_an_unknown_step_or_a_step_missing_its_input_fails_the_task(media: FakeMediaStore) -> None:
    with pytest.raises(UnknownStep):
        invoke({"step": "stitch", **CLAIM})
    with pytest.raises(ValidationError, match="needs plan, chunk"):
        invoke({"step": "chunk", **CLAIM})
    with pytest.raises(ValidationError, match="media_prefix"):
        invoke({"step": "whole", "video_id": "v1", "key": KEY})
    assert media.fetched == []


def test_every_transcode_task_of_the_workflow_names_a_step_the_function_serves() -> None:
    states = json.loads((ROOT / "infra/workflows/publish.asl.json").read_text())["States"]
    # the Map passes its Parameters to the transcode Task it iterates
    tasks = ["Plan", "Transcode", "EncodeChunks", "Finish"]
    assert states["EncodeChunks"]["Iterator"]["States"]["EncodeChunk"]["Resource"] == "${fn_transcode}"
    assert all(states[name].get("Resource", "${fn_transcode}") == "${fn_transcode}" for name in tasks)
    named = {states[name]["Parameters"]["step"] for name in tasks}
    assert named == handler.STEPS.names


def test_settings_require_exactly_the_functions_grants() -> None:
    required = {f.alias for f in handler.Settings.model_fields.values() if f.is_required()}
    assert required == {
        "VIDEOS_TABLE_NAME",
        "UPLOADS_BUCKET_NAME",
        "MEDIA_BUCKET_NAME",
        "EVENTS_EVENT_BUS_NAME",
    }
