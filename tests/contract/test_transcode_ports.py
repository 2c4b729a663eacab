"""The transcode pipeline's ports: ONE set of assertions for each, run against its fake
(tests/fakes/transcode.py) and its real adapter, so a fake cannot drift from what the pipeline really
gets: `MediaStore` (storage.S3MediaStore on moto), `RunRecords` (records.RepositoryRunRecords over the
videos repository, on moto) and `Engine` (engine.FFmpegEngine on a short generated clip: the files the
pipeline reads back are where the fake puts them)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import boto3
import pytest
from moto import mock_aws

from functions.shared import aws
from functions.transcode import chunks
from functions.transcode.engine import FFmpegEngine
from functions.transcode.ladder import ladder
from functions.transcode.ports import Engine, MediaStore, MissingObjectError, RunCheck, RunRecords
from functions.transcode.probe import SourceInfo
from functions.transcode.records import RepositoryRunRecords
from functions.transcode.storage import S3MediaStore
from functions.videos.dal import VideoRepository
from functions.videos.models import Status, UploadRecord, VideoRecord, Visibility
from infra.local.provision import _table_request
from infra.topology import TOPOLOGY
from tests.clips import make_clip
from tests.fakes.transcode import FakeEngine, FakeMediaStore, FakeRunRecords

# --- MediaStore -----------------------------------------------------------------------------------------


class MediaHarness(Protocol):
    @property
    def store(self) -> MediaStore: ...

    def add_upload(self, key: str, data: bytes) -> None: ...

    def written(self) -> list[str]:
        """Media keys in the order they were sent."""
        ...


class FakeMedia:
    def __init__(self) -> None:
        self.store = FakeMediaStore()

    def add_upload(self, key: str, data: bytes) -> None:
        self.store.uploads[key] = data

    def written(self) -> list[str]:
        return [key for op, key in self.store.log if op == "put"]


class S3Media:
    def __init__(self) -> None:
        s3 = boto3.client("s3")
        for bucket in ("uploads", "media"):
            s3.create_bucket(Bucket=bucket)
        self.store = S3MediaStore("uploads", "media")
        self.sent: list[str] = []

        def record(params: dict[str, Any], **_: Any) -> None:
            if params.get("Bucket") == "media" and "Key" in params:
                self.sent.append(params["Key"])

        for operation in ("PutObject", "CreateMultipartUpload"):
            aws.s3().meta.events.register(f"provide-client-params.s3.{operation}", record)

    def add_upload(self, key: str, data: bytes) -> None:
        boto3.client("s3").put_object(Bucket="uploads", Key=key, Body=data)

    def written(self) -> list[str]:
        return list(self.sent)


@pytest.fixture(params=["fake", "s3"])
def media(request: pytest.FixtureRequest) -> Iterator[MediaHarness]:
    if request.param == "fake":
        yield FakeMedia()
        return
    with mock_aws():
        aws.reset_clients()
        yield S3Media()
    aws.reset_clients()


def _tree(root: Path) -> dict[str, bytes]:
    files = {
        "master.m3u8": b"#EXTM3U\n240p/index.m3u8\n",
        "240p/index.m3u8": b"#EXTM3U\nseg_00000.ts\nseg_00001.ts\n",
        "240p/seg_00000.ts": b"G" * 188,
        "240p/seg_00001.ts": b"G" * 376,
        "poster.jpg": b"jpeg",
        "storyboard.vtt": b"WEBVTT\n",
    }
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return files


def test_a_tree_is_written_under_its_prefix_segments_first_master_last(
    media: MediaHarness, tmp_path: Path
) -> None:
    files = _tree(tmp_path)
    assert media.store.put_tree(tmp_path, "hls/v1/") == len(files)
    assert media.store.sizes("hls/v1/") == {f"hls/v1/{name}": len(data) for name, data in files.items()}
    assert media.store.read_text("hls/v1/240p/index.m3u8") == files["240p/index.m3u8"].decode()
    sent = media.written()
    assert sorted(sent) == sorted(f"hls/v1/{name}" for name in files)
    playlists = [i for i, key in enumerate(sent) if key.endswith(".m3u8")]
    assert min(playlists) > max(i for i, key in enumerate(sent) if not key.endswith(".m3u8"))
    assert sent[-1] == "hls/v1/master.m3u8"


def test_the_source_is_a_url_to_the_upload_with_its_size(media: MediaHarness) -> None:
    media.add_upload("originals/v1/clip.mp4", b"the original")
    source = media.store.source("originals/v1/clip.mp4")
    assert source.size == len(b"the original")
    assert source.url.startswith(("http://", "https://"))
    assert "originals/v1/clip.mp4" in source.url
    with pytest.raises(MissingObjectError):
        media.store.source("originals/v1/gone.mp4")


def test_files_are_written_to_their_keys(media: MediaHarness, tmp_path: Path) -> None:
    _tree(tmp_path)
    media.store.put_files([(tmp_path / "240p/index.m3u8", "hls/v1/240p/index.m3u8")], live=True)
    media.store.put_files([(tmp_path / "poster.jpg", "hls/v1/poster.jpg")])
    assert media.written() == ["hls/v1/240p/index.m3u8", "hls/v1/poster.jpg"]
    assert set(media.store.sizes("hls/v1/")) == {"hls/v1/240p/index.m3u8", "hls/v1/poster.jpg"}


def test_sizes_list_only_their_prefix(media: MediaHarness, tmp_path: Path) -> None:
    _tree(tmp_path)
    media.store.put_tree(tmp_path, "public/hls/v1/")
    assert media.store.sizes("hls/v1/") == {}
    assert len(media.store.sizes("public/hls/v1/")) == 6


def test_reading_an_object_that_is_not_there_is_a_missing_object(media: MediaHarness) -> None:
    with pytest.raises(MissingObjectError):
        media.store.read_text("hls/v1/240p/chunk_0000.m3u8")


def test_copies_keep_the_source_and_deletes_ignore_what_is_absent(
    media: MediaHarness, tmp_path: Path
) -> None:
    files = _tree(tmp_path)
    media.store.put_tree(tmp_path, "public/hls/v1/")
    media.store.copy([("public/hls/v1/240p/seg_00001.ts", "hls/v1/240p/seg_00001.ts")])
    assert media.store.sizes("hls/v1/") == {"hls/v1/240p/seg_00001.ts": len(files["240p/seg_00001.ts"])}
    assert "public/hls/v1/240p/seg_00001.ts" in media.store.sizes("public/")
    media.store.delete(["public/hls/v1/240p/seg_00001.ts", "public/hls/v1/never-written.ts"])
    assert "public/hls/v1/240p/seg_00001.ts" not in media.store.sizes("public/")
    assert len(media.store.sizes("public/")) == len(files) - 1
    media.store.delete([])


# --- RunRecords -------------------------------------------------------------------------------------------


class RecordsHarness(Protocol):
    @property
    def records(self) -> RunRecords: ...

    def seed(
        self, status: str, attempt: str | None = None, visibility: str = "private", progress: int = 0
    ) -> None:
        """The video v1 as the publish steps and the videos API leave it."""
        ...

    def progress(self) -> int: ...

    def playable(self) -> str | None:
        """Where v1 plays from while it encodes (None: not playable)."""
        ...


class FakeRecords:
    def __init__(self) -> None:
        self.records = FakeRunRecords()

    def seed(
        self, status: str, attempt: str | None = None, visibility: str = "private", progress: int = 0
    ) -> None:
        self.records.seed("v1", status, attempt, visibility, progress)

    def progress(self) -> int:
        return int(self.records.progress("v1") or 0)

    def playable(self) -> str | None:
        return self.records.videos["v1"].get("playable")


class DynamoRecords:
    def __init__(self) -> None:
        boto3.client("dynamodb").create_table(**_table_request(TOPOLOGY.table("videos"), "videos"))
        self.repository = VideoRepository("videos")
        self.records = RepositoryRunRecords(self.repository)

    def seed(
        self, status: str, attempt: str | None = None, visibility: str = "private", progress: int = 0
    ) -> None:
        video = VideoRecord(
            id="v1",
            owner_id="owner",
            title="clip",
            visibility=Visibility(visibility),
            status=Status(status),
            progress=progress,
            attempt=attempt,
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
        current = self.repository.get("v1")
        if current is None:
            self.repository.create(video)
        else:  # a full-record write, as the API and the publish steps make them
            self.repository.save(video.model_copy(update={"version": current.version + 1}), current.version)

    def progress(self) -> int:
        video = self.repository.get("v1")
        assert video is not None
        return video.progress

    def playable(self) -> str | None:
        video = self.repository.get("v1")
        assert video is not None
        return video.plays_from()


@pytest.fixture(params=["fake", "dynamodb"])
def videos(request: pytest.FixtureRequest) -> Iterator[RecordsHarness]:
    if request.param == "fake":
        yield FakeRecords()
        return
    with mock_aws():
        aws.reset_clients()
        yield DynamoRecords()
    aws.reset_clients()


def test_the_check_reads_status_attempt_and_visibility(videos: RecordsHarness) -> None:
    assert videos.records.check("v1") is None  # no such video
    videos.seed("processing", "run-1", "public")
    assert videos.records.check("v1") == RunCheck(processing=True, attempt="run-1", public=True)
    videos.seed("failed", "run-1", "unlisted")
    assert videos.records.check("v1") == RunCheck(processing=False, attempt="run-1", public=False)
    videos.seed("processing")
    assert videos.records.check("v1") == RunCheck(processing=True, attempt=None, public=False)


def test_progress_is_raised_never_lowered(videos: RecordsHarness) -> None:
    videos.seed("processing", "run-1", progress=20)
    assert videos.records.raise_progress("v1", 30, "run-1")
    assert videos.progress() == 30
    assert not videos.records.raise_progress("v1", 30, "run-1")  # not higher
    assert not videos.records.raise_progress("v1", 10, "run-1")
    assert videos.progress() == 30


@pytest.mark.parametrize(
    ("status", "attempt", "writer", "allowed"),
    [
        ("processing", "run-1", "run-1", True),
        ("processing", "run-2", "run-1", False),  # superseded by a newer claim
        ("failed", "run-1", "run-1", False),  # cancelled
        ("ready", "run-1", "run-1", False),
        ("processing", None, "run-1", True),  # a record from before attempts: status alone
        ("processing", "run-2", None, True),  # a caller from before attempts: status alone
    ],
)
def test_writes_only_while_the_run_owns_the_processing_video(
    videos: RecordsHarness, status: str, attempt: str | None, writer: str | None, allowed: bool
) -> None:
    videos.seed(status, attempt, progress=5)
    assert videos.records.raise_progress("v1", 50, writer) is allowed
    assert (videos.records.add_progress("v1", 10, 99, writer) is not None) is allowed
    assert videos.progress() == (60 if allowed else 5)


def test_progress_is_added_within_its_ceiling(videos: RecordsHarness) -> None:
    videos.seed("processing", "run-1", progress=0)
    assert videos.records.add_progress("v1", 40, 88, "run-1") == 40
    assert videos.records.add_progress("v1", 48, 88, "run-1") == 88
    assert videos.records.add_progress("v1", 1, 88, "run-1") is None  # a retried chunk: capped
    assert videos.progress() == 88


@pytest.mark.parametrize(
    ("status", "attempt", "writer", "allowed"),
    [
        ("processing", "run-1", "run-1", True),
        ("processing", "run-2", "run-1", False),  # superseded
        ("failed", "run-1", "run-1", False),  # cancelled
    ],
)
def test_playable_is_marked_only_while_the_run_owns_the_processing_video(
    videos: RecordsHarness, status: str, attempt: str | None, writer: str | None, allowed: bool
) -> None:
    videos.seed(status, attempt)
    assert videos.records.mark_playable("v1", "hls/v1/", writer) is allowed
    assert videos.playable() == ("hls/v1/" if allowed else None)


def test_nothing_is_written_for_a_video_that_is_gone(videos: RecordsHarness) -> None:
    assert not videos.records.raise_progress("v1", 10, "run-1")
    assert videos.records.add_progress("v1", 10, 99, "run-1") is None
    assert not videos.records.mark_playable("v1", "hls/v1/", "run-1")
    assert videos.records.check("v1") is None


# --- Engine -----------------------------------------------------------------------------------------------

CLIP = SourceInfo(6, 640, 360, 0, 25, True, "h264", None)  # what make_clip writes below


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_clip(tmp_path_factory.mktemp("clip") / "clip.mp4", "640x360", 6, fps=25, gop=50)


@pytest.fixture(params=["fake", "ffmpeg"])
def engine(request: pytest.FixtureRequest) -> Engine:
    return FakeEngine(CLIP) if request.param == "fake" else FFmpegEngine()


def _never() -> bool:
    return False


def _named_segments(playlist: Path) -> list[str]:
    return [line for line in playlist.read_text().splitlines() if line and not line.startswith("#")]


def test_the_probe_says_what_the_source_is(engine: Engine, clip: Path) -> None:
    info = engine.probe(clip)
    assert (info.width, info.height, info.has_audio) == (CLIP.width, CLIP.height, CLIP.has_audio)
    assert info.duration_s == pytest.approx(CLIP.duration_s, abs=0.1)


def test_the_ladder_is_written_as_the_pipeline_uploads_it(engine: Engine, clip: Path, tmp_path: Path) -> None:
    renditions = ladder(CLIP)
    stats = engine.encode_ladder(clip, tmp_path, CLIP, renditions, lambda _: None, _never)
    assert [s.rendition for s in stats] == renditions
    assert all(s.peak_bps >= s.average_bps > 0 for s in stats)
    assert all(s.codecs.startswith("avc1.") and "mp4a.40.2" in s.codecs for s in stats)
    for r in renditions:
        segments = _named_segments(tmp_path / r.name / "index.m3u8")
        assert segments == [f"seg_{i:05d}.ts" for i in range(len(segments))]
        assert all((tmp_path / r.name / s).is_file() for s in segments)
    assert _named_segments(tmp_path / "master.m3u8") == [f"{r.name}/index.m3u8" for r in renditions]


def test_a_chunk_is_written_where_finish_reads_it(engine: Engine, clip: Path, tmp_path: Path) -> None:
    renditions = ladder(CLIP)
    chunk = chunks.plan(CLIP.duration_s, chunk_s=4)[1]  # 4..6 s: its segments numbered from 1
    codecs = engine.encode_chunk(clip, tmp_path, CLIP, renditions, chunk, lambda _: None, _never)
    assert set(codecs) == {r.name for r in renditions}
    assert all(c.startswith("avc1.") and "mp4a" not in c for c in codecs.values())  # video only
    for r in renditions:
        segments = _named_segments(tmp_path / r.name / chunk.playlist)
        assert segments[0] == f"seg_{chunk.first_segment:05d}.ts"
        assert all((tmp_path / r.name / s).is_file() for s in segments)


def test_the_audio_is_one_rendition_of_its_own(engine: Engine, clip: Path, tmp_path: Path) -> None:
    stats = engine.encode_audio(clip, tmp_path, CLIP.duration_s, lambda _: None, _never)
    assert stats.codecs == "mp4a.40.2"
    assert stats.peak_bps >= stats.average_bps > 0
    segments = _named_segments(tmp_path / "audio" / "index.m3u8")
    assert segments
    assert all((tmp_path / "audio" / s).is_file() for s in segments)


def test_the_pictures(engine: Engine, clip: Path, tmp_path: Path) -> None:
    engine.make_pictures(clip, CLIP, tmp_path)
    assert {p.name for p in tmp_path.iterdir()} == {"poster.jpg", "storyboard.jpg", "storyboard.vtt"}
