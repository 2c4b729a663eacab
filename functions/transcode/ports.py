"""The ports the transcode pipeline (functions/transcode/pipeline.py) depends on.

Adapters: `storage.S3MediaStore` (MediaStore), `records.RepositoryRunRecords` (RunRecords, over the
videos domain's repository), `engine.FFmpegEngine` (Engine); `functions.shared.events.EventPublisher`
(Events). Fakes: tests/fakes/transcode.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from functions.transcode.chunks import Chunk
from functions.transcode.ladder import Rendition
from functions.transcode.playlists import VariantStats
from functions.transcode.probe import SourceInfo

Progress = Callable[[float], None]  # fraction done, 0..1
ShouldStop = Callable[[], bool]


class MissingObjectError(Exception):
    """The source upload, or an object the pipeline wrote earlier (a chunk playlist), is not there."""


@dataclass(frozen=True)
class RemoteSource:
    """The original upload as FFmpeg reads it while it downloads: a presigned GET URL, and its size."""

    url: str
    size: int


class MediaStore(Protocol):
    """The uploads bucket (read) and the media bucket (write), as the pipeline uses them."""

    def source(self, key: str) -> RemoteSource:
        """A URL FFmpeg can read the original upload `key` from (ranges included), valid for the encode."""
        ...

    def put_files(self, files: list[tuple[Path, str]], live: bool = False) -> None:
        """Each local file to its key in the media bucket, with the Content-Type and Cache-Control players
        need (`live`: a playlist that still grows is cached for a second only); all written on return."""
        ...

    def put_tree(self, local_root: Path, prefix: str) -> int:
        """Every file under `local_root` to `prefix` + its relative path, with the Content-Type and
        Cache-Control players need; segments and pictures first, then media playlists, the master last
        (a player that finds a playlist finds what it names). Returns how many were written."""
        ...

    def sizes(self, prefix: str) -> dict[str, int]:
        """Key -> size of every media object under `prefix`."""
        ...

    def read_text(self, key: str) -> str:
        """A media object written earlier (a chunk's playlist), as text."""
        ...

    def copy(self, moves: list[tuple[str, str]]) -> None:
        """Server-side copies within the media bucket, (from key, to key), keeping each object's headers."""
        ...

    def delete(self, keys: list[str]) -> None:
        """Remove these media objects (absent ones are no error)."""
        ...


@dataclass(frozen=True)
class RunCheck:
    """What one consistent read of the video's record tells a running encode."""

    processing: bool  # False: cancelled, failed or being deleted
    attempt: str | None  # the run that owns the video (None: a record from before attempts)
    public: bool  # may the run write under public/ now?


class RunRecords(Protocol):
    """The video's record as a running encode reads and writes it. Writes are refused (False/None)
    unless the video is still `processing` and its attempt is still `attempt` (or it has none)."""

    def check(self, video_id: str) -> RunCheck | None:
        """None: the video is gone."""
        ...

    def raise_progress(self, video_id: str, percent: int, attempt: str | None) -> bool:
        """Store `percent` if higher than the stored progress."""
        ...

    def add_progress(self, video_id: str, points: int, ceiling: int, attempt: str | None) -> int | None:
        """Add `points` if the sum stays within `ceiling`; the new progress."""
        ...

    def mark_playable(self, video_id: str, prefix: str, attempt: str | None) -> bool:
        """The video can be played from `prefix` while it still encodes (every rung's first segment is
        there, with growing playlists and a master)."""
        ...


class Engine(Protocol):
    """The FFmpeg side, on local files. Every encode raises `encoder.EncodeCancelled` once
    `should_stop` says so, and `encoder.EncodeError` / `probe.UnplayableSourceError` on bad input."""

    def probe(self, source: Path | str, size: int | None = None) -> SourceInfo:
        """A local file, or a URL (`size`: its size in bytes)."""
        ...

    def encode_ladder(
        self,
        source: Path | str,
        out: Path,
        info: SourceInfo,
        renditions: list[Rendition],
        on_progress: Progress,
        should_stop: ShouldStop,
    ) -> list[VariantStats]:
        """Every rendition's segments and media playlist from one decode, the master playlist, and the
        poster and storyboard from the same decode. `source`: a local file or a URL read as it downloads.
        While it runs, each media playlist is an EVENT playlist renamed into place after each segment
        (which is whole by then); on return they are the final VOD playlists."""
        ...

    def segment_codecs(self, segment: Path) -> str:
        """The CODECS attribute of one of our segments (`avc1.64xxxx,mp4a.40.2`)."""
        ...

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
        """One chunk's video, every rendition (`<rendition>/<chunk playlist>` and its segments); the
        CODECS of each rendition's first segment."""
        ...

    def encode_audio(
        self, source: Path | str, out: Path, duration_s: float, on_progress: Progress, should_stop: ShouldStop
    ) -> VariantStats:
        """The source's audio as one HLS rendition under `out/audio/`."""
        ...

    def make_pictures(self, source: Path | str, info: SourceInfo, out: Path) -> None:
        """poster.jpg, storyboard.jpg and storyboard.vtt under `out`."""
        ...
