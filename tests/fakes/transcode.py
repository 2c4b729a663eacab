"""Fakes of the transcode pipeline's ports (functions/transcode/ports.py). tests/contract/
test_transcode_ports.py holds each to its adapter's behaviour."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from functions.transcode.chunks import Chunk
from functions.transcode.encoder import EncodeCancelled
from functions.transcode.ladder import SEGMENT_S, Rendition
from functions.transcode.playlists import (
    AUDIO_GROUP,
    VariantStats,
    stats_from_segments,
    write_master_playlist,
)
from functions.transcode.ports import MissingObjectError, Progress, RemoteSource, RunCheck, ShouldStop
from functions.transcode.probe import SourceInfo

FAKE_URL = "https://uploads.fake/"  # what FakeMediaStore.source answers: FakeEngine reads nothing else


class FakeMediaStore:
    """`MediaStore` in memory: `uploads` and `media` are key -> bytes. `log` records every change to the
    media bucket in order ("put"/"copy"/"delete", key); `fetched` every source handed out (`source`)."""

    def __init__(self, uploads: dict[str, bytes] | None = None) -> None:
        self.uploads: dict[str, bytes] = dict(uploads or {})
        self.media: dict[str, bytes] = {}
        self.fetched: list[str] = []
        self.log: list[tuple[str, str]] = []
        self.before_put: Callable[[str], None] | None = None  # e.g. a failure part-way through

    def source(self, key: str) -> RemoteSource:
        if key not in self.uploads:
            raise MissingObjectError(f"the upload {key} is not there")
        self.fetched.append(key)
        return RemoteSource(f"{FAKE_URL}{key}", len(self.uploads[key]))

    def put_files(self, files: list[tuple[Path, str]], live: bool = False) -> None:
        for path, key in files:
            if self.before_put:
                self.before_put(key)
            self.media[key] = path.read_bytes()
            self.log.append(("put", key))

    def put_tree(self, local_root: Path, prefix: str) -> int:
        files = sorted(p for p in local_root.rglob("*") if p.is_file())
        # the adapter's order: segments and pictures, then media playlists, the master last
        order = [
            *[f for f in files if f.suffix != ".m3u8"],
            *[f for f in files if f.suffix == ".m3u8" and f.name != "master.m3u8"],
            *[f for f in files if f.name == "master.m3u8"],
        ]
        for path in order:
            key = prefix + path.relative_to(local_root).as_posix()
            if self.before_put:
                self.before_put(key)
            self.media[key] = path.read_bytes()
            self.log.append(("put", key))
        return len(order)

    def sizes(self, prefix: str) -> dict[str, int]:
        return {k: len(v) for k, v in self.media.items() if k.startswith(prefix)}

    def read_text(self, key: str) -> str:
        if key not in self.media:
            raise MissingObjectError(f"{key} is not in the media bucket")
        return self.media[key].decode()

    def copy(self, moves: list[tuple[str, str]]) -> None:
        for source, target in moves:
            self.media[target] = self.media[source]
            self.log.append(("copy", target))

    def delete(self, keys: list[str]) -> None:
        for key in keys:
            self.media.pop(key, None)
            self.log.append(("delete", key))

    def listed(self, prefix: str = "") -> list[str]:
        return sorted(k for k in self.media if k.startswith(prefix))


class FakeRunRecords:
    """`RunRecords` on a dict of video id -> {"status", "attempt", "visibility", "progress"}, with the
    repository's conditions. `checks` counts the consistent reads."""

    def __init__(self) -> None:
        self.videos: dict[str, dict[str, Any]] = {}
        self.checks = 0

    def seed(
        self,
        video_id: str,
        status: str = "processing",
        attempt: str | None = None,
        visibility: str = "private",
        progress: int | None = None,
    ) -> None:
        video: dict[str, Any] = {"status": status, "visibility": visibility}
        if attempt is not None:
            video["attempt"] = attempt
        if progress is not None:
            video["progress"] = progress
        self.videos[video_id] = video

    def progress(self, video_id: str) -> int | None:
        return self.videos[video_id].get("progress")

    def check(self, video_id: str) -> RunCheck | None:
        self.checks += 1
        video = self.videos.get(video_id)
        if video is None:
            return None
        return RunCheck(
            video["status"] == "processing", video.get("attempt"), video["visibility"] == "public"
        )

    def _may_write(self, video_id: str, attempt: str | None) -> dict[str, Any] | None:
        video = self.videos.get(video_id)
        if video is None or video["status"] != "processing":
            return None
        if attempt and video.get("attempt") not in (None, attempt):
            return None
        return video

    def raise_progress(self, video_id: str, percent: int, attempt: str | None) -> bool:
        video = self._may_write(video_id, attempt)
        if video is None or video.get("progress", -math.inf) >= percent:
            return False
        video["progress"] = percent
        return True

    def add_progress(self, video_id: str, points: int, ceiling: int, attempt: str | None) -> int | None:
        video = self._may_write(video_id, attempt)
        if video is None or video.get("progress", -math.inf) > ceiling - points:
            return None
        video["progress"] = video.get("progress", 0) + points
        return int(video["progress"])

    def mark_playable(self, video_id: str, prefix: str, attempt: str | None) -> bool:
        video = self._may_write(video_id, attempt)
        if video is None:
            return False
        video["playable"] = prefix
        return True


def _readable(source: Path | str) -> None:
    if isinstance(source, str):
        assert source.startswith(FAKE_URL), f"reading {source}: not the URL the media store gave"
    else:
        assert source.is_file(), "reading a source that was not fetched"


def _segments(out: Path, name: str, first: int, duration_s: float, playlist: str, size: int) -> None:
    """A rendition's playlist and segments as FFmpeg lays them out: whole SEGMENT_S segments, the last
    one what is left, numbered from `first`."""
    count = max(1, math.ceil(duration_s / SEGMENT_S - 1e-9))
    lines = ["#EXTM3U", "#EXT-X-VERSION:6", f"#EXT-X-TARGETDURATION:{math.ceil(SEGMENT_S)}"]
    for i in range(count):
        duration = min(SEGMENT_S, duration_s - i * SEGMENT_S)
        (out / name / f"seg_{first + i:05d}.ts").write_bytes(b"\x47" * size)
        lines += [f"#EXTINF:{duration:.6f},", f"seg_{first + i:05d}.ts"]
    lines.append("#EXT-X-ENDLIST")
    (out / name / playlist).write_text("\n".join(lines) + "\n")


class FakeEngine:
    """`Engine` that writes what FFmpeg would (playlists naming segments, pictures) without encoding.
    Every call first passes its name to `during` (a cancel or a visibility change arriving then); an
    encode calls it after reporting half its progress, then asks `should_stop`, raises `fail` if set,
    and finishes. `calls` records what was asked, in order."""

    VIDEO_CODECS = "avc1.64001f"

    def __init__(self, info: SourceInfo) -> None:
        self.info = info
        self.calls: list[str] = []
        self.during: Callable[[str], None] | None = None
        self.fail: Exception | None = None
        self.finished: Callable[[str], None] | None = None  # after an encode's last stop check

    def _encode(self, what: str, source: Path | str, on_progress: Progress, should_stop: ShouldStop) -> None:
        _readable(source)
        self.calls.append(what)
        on_progress(0.5)
        if self.during:
            self.during(what)
        if should_stop():
            raise EncodeCancelled
        if self.fail:
            raise self.fail
        on_progress(1.0)
        if self.finished:
            self.finished(what)

    def probe(self, source: Path | str, size: int | None = None) -> SourceInfo:
        _readable(source)
        self.calls.append("probe")
        if self.during:
            self.during("probe")
        return self.info

    def segment_codecs(self, segment: Path) -> str:
        assert segment.is_file(), "the codecs of a segment that is not there"
        return self.VIDEO_CODECS

    def encode_ladder(
        self,
        source: Path | str,
        out: Path,
        info: SourceInfo,
        renditions: list[Rendition],
        on_progress: Progress,
        should_stop: ShouldStop,
    ) -> list[VariantStats]:
        self._encode("ladder", source, on_progress, should_stop)
        stats = []
        for r in renditions:
            (out / r.name).mkdir(parents=True, exist_ok=True)
            _segments(out, r.name, 0, info.duration_s, "index.m3u8", r.height)
            count = max(1, math.ceil(info.duration_s / SEGMENT_S - 1e-9))
            measured = [(min(SEGMENT_S, info.duration_s - i * SEGMENT_S), r.height) for i in range(count)]
            codecs = f"{self.VIDEO_CODECS},mp4a.40.2" if info.has_audio else self.VIDEO_CODECS
            stats.append(stats_from_segments(r, measured, codecs))
        write_master_playlist(out, stats, info.fps)
        for name in ("poster.jpg", "storyboard.jpg", "storyboard.vtt"):  # from the same decode
            (out / name).write_bytes(b"picture")
        return stats

    def encode_chunk(
        self,
        source: Path | str,
        out: Path,
        info: SourceInfo,
        renditions: list[Rendition],
        chunk: Chunk,
        on_progress: Progress,
        should_stop: ShouldStop,
    ) -> dict[str, str]:
        self._encode(f"chunk {chunk.index}", source, on_progress, should_stop)
        for r in renditions:
            (out / r.name).mkdir(parents=True, exist_ok=True)
            _segments(out, r.name, chunk.first_segment, chunk.duration_s, chunk.playlist, r.height)
        return {r.name: self.VIDEO_CODECS for r in renditions}

    def encode_audio(
        self, source: Path | str, out: Path, duration_s: float, on_progress: Progress, should_stop: ShouldStop
    ) -> VariantStats:
        self._encode("audio", source, on_progress, should_stop)
        (out / AUDIO_GROUP).mkdir(parents=True, exist_ok=True)
        _segments(out, AUDIO_GROUP, 0, duration_s, "index.m3u8", 64)
        count = max(1, math.ceil(duration_s / SEGMENT_S - 1e-9))
        measured = [(min(SEGMENT_S, duration_s - i * SEGMENT_S), 64) for i in range(count)]
        return stats_from_segments(Rendition(AUDIO_GROUP, 0, 0, 0, 128), measured, "mp4a.40.2")

    def make_pictures(self, source: Path | str, info: SourceInfo, out: Path) -> None:
        _readable(source)
        self.calls.append("pictures")
        if self.during:
            self.during("pictures")
        out.mkdir(parents=True, exist_ok=True)
        for name in ("poster.jpg", "storyboard.jpg", "storyboard.vtt"):
            (out / name).write_bytes(b"picture")
