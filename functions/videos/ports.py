"""What the videos logic depends on, as Protocols: the logic decides, these fetch, store, sign and start.

Adapters (boto3): `dal.VideoRepository` (the table), `storage.UploadStore` and `storage.MediaStore` (the
buckets), `workflow.StepFunctionsStarter`, `signing.MediaSigner`; `functions.shared.events.EventPublisher`
and `functions.shared.cdn` for events and the CDN's cache. In-memory fakes: tests/fakes/videos.py, held to
the same contract as the adapters by tests/contract/test_videos_ports.py.

The value types and errors the ports speak in live here too, so the logic never imports an adapter.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from functions.shared.cdn import MediaCache
from functions.shared.events import Events
from functions.videos.models import VideoRecord

__all__ = [
    "Events",
    "MediaCache",
    "MediaSigner",
    "MediaStore",
    "ObjectInfo",
    "OverQuotaError",
    "Page",
    "SignedPrefix",
    "StoredPart",
    "UploadStorage",
    "Usage",
    "VersionConflictError",
    "VideoStore",
    "WorkflowStarter",
]


# --- the video records ---------------------------------------------------------------------------------


class VersionConflictError(Exception):
    """The record changed since it was read (optimistic locking)."""


class OverQuotaError(Exception):
    """Creating the video would take its owner's usage past the quota: nothing was written."""


@dataclass(frozen=True)
class Usage:
    """Bytes counted against an owner's storage quota (or, as a change, added to it)."""

    reserved: int = 0  # declared sizes of uploads still awaited
    stored: int = 0  # originals received

    @property
    def used(self) -> int:
        return self.reserved + self.stored


@dataclass(frozen=True)
class Page:
    items: list[VideoRecord]
    next_cursor: str | None


class VideoStore(Protocol):
    """The video records and each owner's usage. Every write of a record is conditional on the version it
    replaces (VersionConflictError otherwise); a change of `charged` moves the owner's usage in the same
    write, so both happen or neither."""

    def create(self, video: VideoRecord, quota: int | None = None) -> None:
        """A new record; a charged one reserves its bytes only within `quota` (else OverQuotaError)."""
        ...

    def get(self, video_id: str) -> VideoRecord | None: ...

    def save(
        self, video: VideoRecord, expected_version: int, previous: VideoRecord | None = None
    ) -> None: ...

    def delete(self, video: VideoRecord) -> None: ...

    def usage(self, owner_id: str) -> Usage: ...

    def list_owned(self, owner_id: str, limit: int, cursor: str | None, filters: dict[str, Any]) -> Page: ...

    def list_public(self, limit: int, cursor: str | None, filters: dict[str, Any]) -> Page: ...

    def overdue_uploads(self, now: int, limit: int = 100) -> list[VideoRecord]: ...


# --- object storage --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredPart:
    part_number: int
    etag: str
    size: int


@dataclass(frozen=True)
class ObjectInfo:
    size: int
    content_type: str
    etag: str


class UploadStorage(Protocol):
    """The uploads bucket: presigned uploads (single PUT and multipart), and the originals."""

    def presign_put(
        self, key: str, content_type: str, size_bytes: int, expires_s: int
    ) -> tuple[str, dict[str, str]]: ...

    def start_multipart(self, key: str, content_type: str) -> str: ...

    def presign_part(
        self, key: str, upload_id: str, part_number: int, size_bytes: int, expires_s: int
    ) -> str: ...

    def parts(self, key: str, upload_id: str) -> list[StoredPart]:
        """The parts S3 has; ConflictError if the upload is no longer open."""
        ...

    def complete(self, key: str, upload_id: str, parts: list[tuple[int, str]]) -> None: ...

    def abort(self, key: str, upload_id: str) -> bool:
        """True if an open upload was aborted; False if none was open (completed, aborted, expired)."""
        ...

    def delete(self, key: str) -> None: ...

    def head(self, key: str) -> ObjectInfo | None: ...

    def delete_prefix(self, prefix: str) -> int:
        """Delete every object under `prefix`; how many went."""
        ...


class MediaStore(Protocol):
    """The media bucket: a video's HLS output, under a prefix that follows its visibility."""

    def copy_prefix(self, source: str, target: str) -> int:
        """Copy every object under `source` to the same name under `target`; how many were copied."""
        ...

    def delete_prefix(self, prefix: str) -> int: ...


# --- workflows, playback ----------------------------------------------------------------------------------


class WorkflowStarter(Protocol):
    """Starts one workflow (a state machine). Idempotent by name: starting a name again with the same
    payload starts nothing new (Step Functions answers with the execution it already has)."""

    def start(self, name: str, payload: Mapping[str, Any]) -> None: ...


@dataclass(frozen=True)
class SignedPrefix:
    url: str  # <cdn>/media/s/<token>/hls/<video_id>/
    expires_at: int  # Unix seconds


class MediaSigner(Protocol):
    def public_prefix(self, media_prefix: str) -> str: ...

    def sign_video(self, video_id: str, now: float | None = None) -> SignedPrefix: ...
