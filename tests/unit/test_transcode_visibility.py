"""A video made private while it is being transcoded is never written under public/ (finding 3): the
transcoder checks the visibility right before it writes, and writes to the private prefix if the video
is no longer public. Whole-file and chunked, with the real claim, transcode steps and MarkReady against
moto; every key written to the media bucket is recorded as it is sent."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest

from functions.shared import aws
from functions.shared.events import EventPublisher
from functions.shared.principal import Caller
from functions.transcode import handler
from functions.videos.dal import VideoRepository
from functions.videos.logic import Publishing, VideoService
from functions.videos.models import Status, UpdateVideoRequest, UploadRecord, VideoRecord, Visibility
from functions.videos.storage import MediaStore, UploadStore
from functions.videos.uploads import UploadLimits
from tests.clips import make_clip
from tests.fakes.videos import FakeSigner, RecordingCache, RecordingWorkflow

OWNER = Caller("owner", frozenset({"videos:write"}), "jwt")
KEY = "originals/v1/clip.mp4"


class World:
    def __init__(self, etag: str) -> None:
        repo = VideoRepository("videos")
        publisher = EventPublisher("bus")
        self.publishing = Publishing(repo, MediaStore("media"), publisher, RecordingCache())
        self.service = VideoService(
            repo,
            UploadStore("uploads"),
            publisher,
            UploadLimits(),
            delete_workflow=RecordingWorkflow(),
            signer=FakeSigner(),
        )
        self.etag = etag
        self.written: list[str] = []  # media keys, in the order they were sent
        self.private_at: int | None = None  # how many had been sent when the video turned private

    def make_private(self) -> None:
        self.service.update("v1", UpdateVideoRequest(visibility=Visibility.PRIVATE), OWNER)
        self.private_at = len(self.written)

    def public_writes_after_private(self) -> list[str]:
        assert self.private_at is not None
        return [k for k in self.written[self.private_at :] if k.startswith("public/")]


def step(name: str, claim: dict[str, Any] | None = None, **fields: Any) -> Any:
    """A transcode step as the publish workflow invokes it (the handler's dispatch, the real adapters)."""
    if claim is not None:
        fields |= {k: claim[k] for k in ("media_prefix", "private_prefix", "attempt")}
    return handler.STEPS.handle({"step": name, "video_id": "v1", "key": KEY, **fields})


def media_keys(prefix: str) -> list[str]:
    listed = boto3.client("s3").list_objects_v2(Bucket="media", Prefix=prefix)
    return sorted(o["Key"] for o in listed.get("Contents", []))


@pytest.fixture
def world(buckets: None, tmp_path: Path) -> Callable[[float], World]:
    """A public video `v1` uploaded and ready to publish, in the transcode function's moto world
    (`buckets`, tests/unit/conftest.py); every key written to the media bucket is recorded."""

    def make(seconds: float) -> World:
        clip = make_clip(tmp_path / "clip.mp4", "426x240", seconds, fps=25, audio=False)
        etag = boto3.client("s3").put_object(Bucket="uploads", Key=KEY, Body=clip.read_bytes())["ETag"]
        VideoRepository("videos").create(
            VideoRecord(
                id="v1",
                owner_id=OWNER.user_id,
                title="clip",
                visibility=Visibility.PUBLIC,
                status=Status.UPLOADED,
                source_etag=etag,
                upload=UploadRecord(
                    key=KEY,
                    filename="clip.mp4",
                    content_type="video/mp4",
                    size_bytes=clip.stat().st_size,
                    method="PUT",
                    expires_at=2_000_000_000,
                ),
                created_at="2026-01-01T00:00:00.000Z",
                updated_at="2026-01-01T00:00:00.000Z",
            )
        )
        made = World(etag)

        def record(params: dict[str, Any], **_: Any) -> None:
            if params.get("Bucket") == "media" and "Key" in params:
                made.written.append(params["Key"])

        for operation in ("PutObject", "CreateMultipartUpload", "CopyObject"):
            aws.s3().meta.events.register(f"provide-client-params.s3.{operation}", record)
        return made

    return make


def test_a_video_made_private_during_its_encode_is_moved_and_nothing_more_goes_to_public(
    world: Callable[[float], World],
) -> None:
    w = world(10)  # 3 segments per rung: published while it encodes
    claim = w.publishing.claim("v1", w.etag, "run-1")
    assert claim["media_prefix"] == "public/hls/v1/"  # public when it was claimed
    changed: list[str] = []

    def owner_makes_it_private_meanwhile(params: dict[str, Any], **_: Any) -> None:
        if not changed and params.get("Key", "").startswith("public/"):
            w.make_private()  # while the first segment is being written
            changed.append(params["Key"])

    aws.s3().meta.events.register("provide-client-params.s3.PutObject", owner_makes_it_private_meanwhile)
    output = step("whole", claim)
    assert output["media_prefix"] == "hls/v1/"
    # What went to public/ was decided by the one read before the change: that round's first segments and
    # the playlists naming them (docs/transcode.md, "Visibility while encoding"); nothing after it.
    public = [k for k in w.written if k.startswith("public/")]
    assert public
    assert all(k.endswith(("seg_00000.ts", "index.m3u8", "master.m3u8")) for k in public)
    assert media_keys("public/") == []  # moved, not left behind
    assert w.publishing.mark_ready("v1", output, "run-1") == "ready"
    video = w.service.repo.get("v1")
    assert video is not None
    assert (video.status, video.media_prefix) == (Status.READY, "hls/v1/")
    keys = media_keys("hls/v1/")
    assert "hls/v1/master.m3u8" in keys
    assert {f"hls/v1/240p/seg_{i:05d}.ts" for i in range(3)} <= set(keys)


def test_a_public_video_is_still_written_straight_to_public(world: Callable[[float], World]) -> None:
    w = world(2)
    claim = w.publishing.claim("v1", w.etag, "run-1")
    output = step("whole", claim)
    assert output["media_prefix"] == "public/hls/v1/"
    assert w.written
    assert all(k.startswith("public/hls/v1/") for k in w.written)  # no detour, no copy


def test_chunks_of_a_video_made_private_midway_are_gathered_under_the_private_prefix(
    world: Callable[[float], World],
) -> None:
    w = world(10)  # chunked: 4 + 4 + 2 s
    claim = w.publishing.claim("v1", w.etag, "run-1")
    plan = step("plan")
    assert len(plan["chunks"]) == 3
    results = [step("chunk", claim, plan=plan, chunk=plan["chunks"][0])]
    assert results[0]["media_prefix"] == "public/hls/v1/"  # written while it was public
    w.make_private()
    results += [step("chunk", claim, plan=plan, chunk=c) for c in plan["chunks"][1:]]
    assert [r["media_prefix"] for r in results[1:]] == ["hls/v1/", "hls/v1/"]
    output = step("finish", claim, plan=plan, chunks=results)
    assert output["media_prefix"] == "hls/v1/"
    assert w.public_writes_after_private() == []  # nothing sent to public/ once it was private
    assert media_keys("public/") == []  # and what the first chunk wrote there is gone
    kept = media_keys("hls/v1/")
    for rendition in output["renditions"]:
        playlist = boto3.client("s3").get_object(Bucket="media", Key=f"hls/v1/{rendition['name']}/index.m3u8")
        names = [line for line in playlist["Body"].read().decode().splitlines() if line.endswith(".ts")]
        assert names == [f"seg_{i:05d}.ts" for i in range(3)]
        assert all(f"hls/v1/{rendition['name']}/{n}" in kept for n in names)  # every segment it names
    assert not [k for k in kept if "chunk_" in k]
    assert w.publishing.mark_ready("v1", output, "run-1") == "ready"


def test_a_failed_run_removes_what_it_wrote_under_either_prefix(world: Callable[[float], World]) -> None:
    w = world(10)
    claim = w.publishing.claim("v1", w.etag, "run-1")
    plan = step("plan")
    step("chunk", claim, plan=plan, chunk=plan["chunks"][0])
    w.make_private()
    step("chunk", claim, plan=plan, chunk=plan["chunks"][1])
    assert media_keys("public/hls/v1/")
    assert media_keys("hls/v1/")
    error = {"Error": "States.TaskFailed", "Cause": "{}"}
    assert w.publishing.mark_failed("v1", claim["media_prefix"], error, "run-1") == "failed"
    assert media_keys("public/") == media_keys("hls/") == []
