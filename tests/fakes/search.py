"""Fakes of the search domain's ports (functions/search/ports.py)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from functions.search.models import Manifest
from functions.shared.errors import DependencyUnavailableError
from functions.videos.models import VideoRecord


class MemoryIndexFiles:
    """`IndexFiles` in memory: the pointer and the files as bytes; counts what was transferred."""

    def __init__(self) -> None:
        self.pointer: Manifest | None = None
        self.blobs: dict[str, bytes] = {}
        self.downloads: list[str] = []
        self.uploads: list[str] = []
        self.pointer_reads = 0

    def manifest(self) -> Manifest | None:
        self.pointer_reads += 1
        return self.pointer

    def download(self, name: str, target: Path) -> None:
        if name not in self.blobs:
            raise DependencyUnavailableError(f"no index file {name}")  # as the S3 adapter says it
        self.downloads.append(name)
        target.write_bytes(self.blobs[name])

    def upload(self, name: str, source: Path) -> None:
        self.uploads.append(name)
        self.blobs[name] = source.read_bytes()

    def publish(self, manifest: Manifest) -> None:
        missing = [name for name in manifest.files if name not in self.blobs]
        if missing:
            raise AssertionError(f"published a version whose files are not uploaded: {missing}")
        self.pointer = manifest


class ListCatalogue:
    """`VideoCatalogue` over a list of records."""

    def __init__(self, videos: Iterable[VideoRecord]) -> None:
        self.videos = list(videos)

    def all_videos(self) -> list[VideoRecord]:
        return list(self.videos)
