"""The publish workflow's record steps (functions/videos/logic.py Publishing) on the fakes: a claim once per
file version and attempt, MarkReady and MarkFailed idempotent, and a superseded run touching nothing; then
the task function's dispatch and the output shapes infra/workflows/publish.asl.json reads."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from functions.shared.steps import UnknownStep
from functions.videos import publishing, wiring
from functions.videos.logic import GENERIC_FAILURE, failure_reason
from functions.videos.models import Status, UploadRecord, VideoRecord, Visibility
from tests.fakes.videos import VideosWorld

ROOT = Path(__file__).resolve().parents[2]

ETAG = '"e1"'
OUTPUT = {"media_prefix": "hls/v1/", "duration_s": 2.0, "width": 426, "height": 240, "renditions": []}
FAILURE = {"Error": "EncodeError", "Cause": "{}"}


@pytest.fixture
def world() -> VideosWorld:
    made = VideosWorld()
    made.repo.create(
        VideoRecord(
            id="v1",
            owner_id="owner",
            title="clip",
            status=Status.UPLOADED,
            source_etag=ETAG,
            upload=UploadRecord(
                key="originals/v1/clip.mp4",
                filename="clip.mp4",
                content_type="video/mp4",
                size_bytes=12,
                method="PUT",
                expires_at=2_000_000_000,
            ),
            created_at="2026-01-01T00:00:00.000Z",
            updated_at="2026-01-01T00:00:00.000Z",
        )
    )
    return made


def write_output(world: VideosWorld, prefix: str = "hls/v1/") -> None:
    for name in ("master.m3u8", "240p/index.m3u8", "240p/seg_00000.ts"):
        world.media.put(prefix + name, b"x")


def record(world: VideosWorld) -> VideoRecord:
    video = world.repo.get("v1")
    assert video is not None
    return video


def set_state(world: VideosWorld, **changes: Any) -> None:
    video = record(world)
    world.repo.save(video.changed(**changes), expected_version=video.version)


def test_a_claim_happens_once_per_file_version(world: VideosWorld) -> None:
    steps = world.publishing()
    claimed = steps.claim("v1", ETAG, "run-a")
    assert claimed == {
        "claimed": True,
        "video_id": "v1",
        "key": "originals/v1/clip.mp4",
        "media_prefix": "hls/v1/",
        "private_prefix": "hls/v1/",
        "attempt": "run-a",
    }
    assert (record(world).status, record(world).attempt) == (Status.PROCESSING, "run-a")
    assert steps.claim("v1", ETAG, "run-a") == claimed  # a retried Claim whose write landed
    assert steps.claim("v1", ETAG, "run-z") == {"claimed": False}  # a duplicate event's run
    assert steps.claim("v1", '"other"', "run-y") == {"claimed": False}  # another file version
    assert steps.claim("nope", ETAG, "run-x") == {"claimed": False}


def test_a_public_video_is_claimed_for_the_public_prefix(world: VideosWorld) -> None:
    set_state(world, visibility=Visibility.PUBLIC)
    claimed = world.publishing().claim("v1", ETAG, "run-a")
    assert (claimed["media_prefix"], claimed["private_prefix"]) == ("public/hls/v1/", "hls/v1/")


def test_mark_ready_once_and_announces_it(world: VideosWorld) -> None:
    steps = world.publishing()
    steps.claim("v1", ETAG, "run-a")
    write_output(world)
    assert steps.mark_ready("v1", OUTPUT, "run-a") == "ready"
    assert steps.mark_ready("v1", OUTPUT, "run-a") == "ready"  # retried
    video = record(world)
    assert (video.status, video.progress, video.media_prefix, video.width) == (
        Status.READY,
        100,
        "hls/v1/",
        426,
    )
    assert [kind for kind, _ in world.events.published] == ["video.ready"]
    # MarkReady's write landed but the step failed after it: MarkFailed must not delete what plays.
    assert steps.mark_failed("v1", "hls/v1/", FAILURE, "run-a") == "left ready"
    assert len(world.media.keys("hls/v1/")) == 3


def test_a_video_made_private_while_encoding_is_moved_after_it_is_ready(world: VideosWorld) -> None:
    set_state(world, visibility=Visibility.PUBLIC)
    steps = world.publishing()
    steps.claim("v1", ETAG, "run-a")
    set_state(world, visibility=Visibility.PRIVATE)
    assert steps.mark_ready("v1", {**OUTPUT, "media_prefix": "public/hls/v1/"}, "run-a") == "ready"
    assert world.events.of_type("video.visibility_changed") == [
        {"video_id": "v1", "owner_id": "owner", "visibility": "private"}
    ]


def test_a_run_cancelled_meanwhile_keeps_nothing(world: VideosWorld) -> None:
    steps = world.publishing()
    steps.claim("v1", ETAG, "run-a")
    write_output(world)
    set_state(world, status=Status.FAILED, error="Processing was cancelled by its owner.")
    assert steps.mark_ready("v1", OUTPUT, "run-a") == "discarded"
    assert world.media.keys() == []
    assert steps.mark_failed("v1", "hls/v1/", FAILURE, "run-a") == "left failed"
    assert record(world).error == "Processing was cancelled by its owner."


def test_a_failed_run_removes_its_output_and_fails_the_video(world: VideosWorld) -> None:
    steps = world.publishing()
    steps.claim("v1", ETAG, "run-a")
    write_output(world)
    assert steps.mark_failed("v1", "hls/v1/", FAILURE, "run-a") == "failed"
    assert world.media.keys() == []
    assert (record(world).status, record(world).error) == (Status.FAILED, GENERIC_FAILURE)
    assert world.events.of_type("video.failed") == [
        {"video_id": "v1", "owner_id": "owner", "reason": GENERIC_FAILURE}
    ]


def test_a_superseded_run_touches_nothing(world: VideosWorld) -> None:
    steps = world.publishing()
    steps.claim("v1", ETAG, "run-a")
    set_state(world, status=Status.UPLOADED)  # cancelled and retried
    steps.claim("v1", ETAG, "run-b")
    write_output(world)
    before = record(world)
    assert steps.mark_failed("v1", "hls/v1/", FAILURE, "run-a") == "superseded"
    assert steps.mark_ready("v1", OUTPUT, "run-a") == "superseded"
    superseded = {"Error": "SupersededError", "Cause": json.dumps({"errorType": "SupersededError"})}
    assert steps.mark_failed("v1", "hls/v1/", superseded, "run-a") == "superseded"
    assert record(world) == before
    assert len(world.media.keys()) == 3


def test_a_retry_after_a_cancel_and_a_move_to_private_leaves_nothing_public(world: VideosWorld) -> None:
    """Run A streams a public video under public/ as it encodes; the owner cancels, makes the video
    private and retries before A has noticed. A is superseded and touches nothing; run B writes under
    hls/ only. B's MarkReady removes A's public output and invalidates the edge, or it would stay
    playable by anyone at its public URLs."""
    set_state(world, visibility=Visibility.PUBLIC)
    steps = world.publishing()
    steps.claim("v1", ETAG, "run-a")
    write_output(world, "public/hls/v1/")
    set_state(world, status=Status.UPLOADED, visibility=Visibility.PRIVATE)  # cancelled, private, retried
    assert steps.claim("v1", ETAG, "run-b")["media_prefix"] == "hls/v1/"
    assert steps.mark_failed("v1", "public/hls/v1/", FAILURE, "run-a") == "superseded"
    write_output(world, "hls/v1/")
    assert steps.mark_ready("v1", OUTPUT, "run-b") == "ready"
    assert world.media.keys("public/") == []
    assert len(world.media.keys("hls/v1/")) == 3
    assert world.cache.invalidated == [["/hls/v1/*", "/public/hls/v1/*", "/media/public/hls/v1/*"]]


def test_a_failed_streamed_run_that_published_publicly_invalidates_the_edge(world: VideosWorld) -> None:
    set_state(world, visibility=Visibility.PUBLIC)
    steps = world.publishing()
    steps.claim("v1", ETAG, "run-a")
    write_output(world, "public/hls/v1/")
    assert steps.mark_failed("v1", "public/hls/v1/", FAILURE, "run-a") == "failed"
    assert world.media.keys() == []
    assert len(world.cache.invalidated) == 1


def test_a_private_run_that_fails_has_nothing_at_the_edge_to_invalidate(world: VideosWorld) -> None:
    steps = world.publishing()
    steps.claim("v1", ETAG, "run-a")
    write_output(world)
    assert steps.mark_failed("v1", "hls/v1/", FAILURE, "run-a") == "failed"
    assert world.cache.invalidated == []


def test_a_failed_claim_fails_a_video_still_uploaded_and_leaves_one_another_run_claimed(
    world: VideosWorld,
) -> None:
    steps = world.publishing()
    assert steps.mark_failed("v1", None, FAILURE, "run-a", claimed=False, etag=ETAG) == "failed"
    set_state(world, status=Status.UPLOADED, error=None)
    steps.claim("v1", ETAG, "run-b")
    assert steps.mark_failed("v1", None, FAILURE, "run-a", claimed=False, etag=ETAG) == "left processing"


def test_a_video_deleted_while_encoding_leaves_no_output(world: VideosWorld) -> None:
    steps = world.publishing()
    steps.claim("v1", ETAG, "run-a")
    write_output(world)
    world.repo.delete(record(world))
    assert steps.mark_ready("v1", OUTPUT, "run-a") == "discarded"
    write_output(world)
    assert steps.mark_failed("v1", "hls/v1/", FAILURE, "run-a") == "gone"
    assert world.media.keys() == []


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (
            {
                "Error": "X",
                "Cause": json.dumps({"errorType": "UnplayableSourceError", "errorMessage": "No video."}),
            },
            "No video.",
        ),
        (
            {"Error": "States.Timeout"},
            "Processing took longer than allowed. Retry it, or upload a shorter video.",
        ),
        ({"Error": "X", "Cause": "not json"}, GENERIC_FAILURE),
        ({"Error": "X", "Cause": json.dumps(["a list"])}, GENERIC_FAILURE),
    ],
)
def test_the_owner_is_told_why_in_their_words_or_a_generic_line(error: dict[str, Any], reason: str) -> None:
    assert failure_reason(error) == reason


# --- the task function ---------------------------------------------------------------------------------


def test_the_task_function_dispatches_each_step_with_the_shapes_the_workflow_reads(
    world: VideosWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(wiring, "publishing", world.publishing)
    claimed = publishing.STEPS.handle({"step": "claim", "video_id": "v1", "etag": ETAG, "attempt": "run-a"})
    assert claimed["claimed"] is True
    assert claimed["attempt"] == "run-a"
    write_output(world)
    ready = {"step": "mark_ready", "video_id": "v1", "output": OUTPUT, "attempt": "run-a"}
    assert publishing.STEPS.handle(ready) == {"outcome": "ready"}
    failed = {
        "step": "mark_failed",
        "video_id": "v1",
        "media_prefix": "hls/v1/",
        "error": FAILURE,
        "attempt": "run-a",
        "claimed": True,
        "etag": ETAG,
    }
    assert publishing.STEPS.handle(failed) == {"outcome": "left ready"}
    with pytest.raises(UnknownStep):
        publishing.STEPS.handle({"step": "transcode", "video_id": "v1"})
    with pytest.raises(ValueError, match="etag"):
        publishing.STEPS.handle({"step": "claim", "video_id": "v1"})


def test_every_step_the_publish_workflow_gives_this_function_is_served() -> None:
    states = json.loads((ROOT / "infra/workflows/publish.asl.json").read_text())["States"]
    named = {
        s["Parameters"]["step"] for s in states.values() if s.get("Resource") == "${fn_videos_publish_steps}"
    }
    assert named == publishing.STEPS.names == {"claim", "mark_ready", "mark_failed"}
