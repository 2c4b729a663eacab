"""In-memory fakes of the videos ports (functions/videos/ports.py), for the logic tier (tests/logic).

tests/contract/test_videos_ports.py runs the same assertions against each fake and its real adapter on
moto, so what a logic test relies on here is what the adapter does. Each fake also has a small hook for
what a logic test must provoke and an adapter cannot be made to do on demand (a concurrent writer, an
outage), named `before_*` or `fail_*`.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import itertools
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from functions.shared.errors import ConflictError, DependencyUnavailableError, MalformedRequestError
from functions.shared.plans import STORAGE_QUOTAS
from functions.videos.logic import Deletion, Ingest, MediaMoves, Publishing, Sweeper, VideoService
from functions.videos.models import Status, VideoRecord, Visibility
from functions.videos.ports import (
    ObjectInfo,
    OverQuotaError,
    Page,
    SignedPrefix,
    StoredPart,
    Usage,
    VersionConflictError,
)
from functions.videos.uploads import UploadLimits
from tests.fakes.shared import RecordingEvents


def _charge(video: VideoRecord | None) -> Usage:
    if video is None or video.charged is None:
        return Usage()
    size = video.upload.size_bytes
    return Usage(reserved=size) if video.charged == "reserved" else Usage(stored=size)


def _minus(a: Usage, b: Usage) -> Usage:
    return Usage(a.reserved - b.reserved, a.stored - b.stored)


def _plus(a: Usage, b: Usage) -> Usage:
    return Usage(a.reserved + b.reserved, a.stored + b.stored)


def _encode(position: str) -> str:
    return base64.urlsafe_b64encode(position.encode()).decode()


def _decode(cursor: str | None) -> str | None:
    if not cursor:
        return None
    try:
        return base64.urlsafe_b64decode(cursor.encode()).decode()
    except ValueError:
        raise MalformedRequestError("The cursor is not one this API returned for this listing.") from None


class InMemoryVideos:
    """`VideoStore`: records by id, each owner's usage moved in the same write as `charged`."""

    def __init__(self) -> None:
        self.records: dict[str, VideoRecord] = {}
        self.usages: dict[str, Usage] = {}
        self.writes = 0  # successful writes of records (create, save, delete)
        # Called with the record about to be saved, before its condition is checked: a test makes a
        # concurrent writer change the stored record here, or raise to make the write fail.
        self.before_save: Callable[[VideoRecord], object] | None = None

    def _stored(self, video_id: str) -> VideoRecord | None:
        found = self.records.get(video_id)
        return found.model_copy(deep=True) if found else None

    def _move_usage(self, owner_id: str, change: Usage) -> None:
        if change != Usage():
            self.usages[owner_id] = _plus(self.usages.get(owner_id, Usage()), change)

    def create(self, video: VideoRecord, quota: int | None = None) -> None:
        if video.id in self.records:
            raise VersionConflictError(video.id)
        change = _charge(video)
        if change.used and quota is not None and self.usage(video.owner_id).used + change.used > quota:
            raise OverQuotaError(video.owner_id)
        self.records[video.id] = video.model_copy(deep=True)
        self._move_usage(video.owner_id, change)
        self.writes += 1

    def get(self, video_id: str) -> VideoRecord | None:
        return self._stored(video_id)

    def save(self, video: VideoRecord, expected_version: int, previous: VideoRecord | None = None) -> None:
        if self.before_save is not None:
            hook, self.before_save = self.before_save, None  # once: the concurrent writer writes once
            hook(video)
        stored = self.records.get(video.id)
        if stored is None or stored.version != expected_version:
            raise VersionConflictError(video.id)
        self.records[video.id] = video.model_copy(deep=True)
        if previous is not None:
            self._move_usage(video.owner_id, _minus(_charge(video), _charge(previous)))
        self.writes += 1

    def delete(self, video: VideoRecord) -> None:
        stored = self.records.get(video.id)
        if stored is None or stored.version != video.version:
            raise VersionConflictError(video.id)
        del self.records[video.id]
        self._move_usage(video.owner_id, _minus(Usage(), _charge(video)))
        self.writes += 1

    def usage(self, owner_id: str) -> Usage:
        return self.usages.get(owner_id, Usage())

    def _page(
        self, matching: list[VideoRecord], limit: int, cursor: str | None, filters: Mapping[str, Any]
    ) -> Page:
        after = _decode(cursor)
        ordered = sorted(matching, key=lambda v: f"{v.created_at}#{v.id}", reverse=True)
        if after is not None:
            ordered = [v for v in ordered if f"{v.created_at}#{v.id}" < after]
        wanted = [v for v in ordered if _matches(v, filters)]
        items = wanted[:limit]
        more = len(wanted) > limit
        last = items[-1] if items else None
        next_cursor = _encode(f"{last.created_at}#{last.id}") if (more and last) else None
        return Page([v.model_copy(deep=True) for v in items], next_cursor)

    def list_owned(self, owner_id: str, limit: int, cursor: str | None, filters: dict[str, Any]) -> Page:
        return self._page(
            [v for v in self.records.values() if v.owner_id == owner_id], limit, cursor, filters
        )

    def list_public(self, limit: int, cursor: str | None, filters: dict[str, Any]) -> Page:
        public = [
            v
            for v in self.records.values()
            if v.visibility is Visibility.PUBLIC and v.status is not Status.DELETING
        ]
        return self._page(public, limit, cursor, filters)

    def overdue_uploads(self, now: int, limit: int = 100) -> list[VideoRecord]:
        due = [
            v
            for v in self.records.values()
            if v.status is Status.AWAITING_UPLOAD and v.upload.expires_at < now
        ]
        due.sort(key=lambda v: (v.upload.expires_at, v.id))
        return [v.model_copy(deep=True) for v in due[:limit]]


def _matches(video: VideoRecord, filters: Mapping[str, Any]) -> bool:
    for name, wanted in filters.items():
        if wanted is None:
            continue
        value = getattr(video, name)
        if name == "tags":
            if str(wanted) not in value:
                return False
        elif str(value) != str(wanted):
            return False
    return True


@dataclass
class _Object:
    body: bytes
    content_type: str

    @property
    def etag(self) -> str:
        return '"' + hashlib.md5(self.body, usedforsecurity=False).hexdigest() + '"'


@dataclass
class _Multipart:
    key: str
    content_type: str
    parts: dict[int, bytes] = field(default_factory=dict)


class _Objects:
    """Objects by key, as a bucket holds them."""

    def __init__(self, bucket: str) -> None:
        self.bucket = bucket
        self.objects: dict[str, _Object] = {}

    def put(self, key: str, body: bytes, content_type: str = "binary/octet-stream") -> str:
        self.objects[key] = _Object(body, content_type)
        return self.objects[key].etag

    def keys(self, prefix: str = "") -> list[str]:
        return sorted(k for k in self.objects if k.startswith(prefix))

    def delete_prefix(self, prefix: str) -> int:
        gone = self.keys(prefix)
        for key in gone:
            del self.objects[key]
        return len(gone)


class InMemoryUploads(_Objects):
    """`UploadStorage`: the uploads bucket, its open multipart uploads, and URLs that only name what they
    were made for (a logic test reads them; the SigV4 binding is the adapter's, tested on moto)."""

    def __init__(self, bucket: str = "uploads") -> None:
        super().__init__(bucket)
        self.multipart: dict[str, _Multipart] = {}
        self._ids = itertools.count(1)

    def presign_put(
        self, key: str, content_type: str, size_bytes: int, expires_s: int
    ) -> tuple[str, dict[str, str]]:
        url = f"memory://{self.bucket}/{key}?length={size_bytes}&expires={expires_s}"
        return url, {"Content-Type": content_type, "Content-Length": str(size_bytes)}

    def start_multipart(self, key: str, content_type: str) -> str:
        upload_id = f"upload-{next(self._ids)}"
        self.multipart[upload_id] = _Multipart(key, content_type)
        return upload_id

    def presign_part(
        self, key: str, upload_id: str, part_number: int, size_bytes: int, expires_s: int
    ) -> str:
        return (
            f"memory://{self.bucket}/{key}?uploadId={upload_id}&partNumber={part_number}&length={size_bytes}"
        )

    def put_part(self, upload_id: str, part_number: int, body: bytes) -> str:
        """What a client does with a part URL."""
        self.multipart[upload_id].parts[part_number] = body
        return _Object(body, "").etag

    def parts(self, key: str, upload_id: str) -> list[StoredPart]:
        upload = self.multipart.get(upload_id)
        if upload is None or upload.key != key:
            raise ConflictError("This upload is no longer open (completed, aborted or expired).")
        return [StoredPart(n, _Object(body, "").etag, len(body)) for n, body in sorted(upload.parts.items())]

    def complete(self, key: str, upload_id: str, parts: list[tuple[int, str]]) -> None:
        upload = self.multipart.get(upload_id)
        if upload is None or upload.key != key:
            raise ConflictError("S3 refused to assemble the upload: the upload is not open.")
        for number, etag in parts:
            body = upload.parts.get(number)
            if body is None or _Object(body, "").etag != etag:
                raise ConflictError(f"S3 refused to assemble the upload: part {number} is not as sent.")
        body = b"".join(upload.parts[n] for n, _ in sorted(parts))
        del self.multipart[upload_id]
        self.put(key, body, upload.content_type)

    def abort(self, key: str, upload_id: str) -> bool:
        upload = self.multipart.get(upload_id)
        if upload is None or upload.key != key:
            return False
        del self.multipart[upload_id]
        return True

    def delete(self, key: str) -> None:
        self.objects.pop(key, None)

    def head(self, key: str) -> ObjectInfo | None:
        found = self.objects.get(key)
        return ObjectInfo(len(found.body), found.content_type, found.etag) if found else None


class InMemoryMedia(_Objects):
    """`MediaStore`: the media bucket."""

    def __init__(self, bucket: str = "media") -> None:
        super().__init__(bucket)
        self.fail_copies = False  # the store is down for copies (a move must then change no record)

    def copy_prefix(self, source: str, target: str) -> int:
        if self.fail_copies:
            raise DependencyUnavailableError(f"Could not copy media from {source} to {target}.")
        copied = 0
        for key in self.keys(source):
            self.objects[target + key[len(source) :]] = copy.deepcopy(self.objects[key])
            copied += 1
        return copied


class RecordingWorkflow:
    """`WorkflowStarter`, idempotent by name as Step Functions is: a name started again starts nothing.
    `fail_next` makes that many starts fail as an unreachable Step Functions does."""

    def __init__(self) -> None:
        self.executions: dict[str, dict[str, Any]] = {}
        self.fail_next = 0

    def start(self, name: str, payload: Mapping[str, Any]) -> None:
        if self.fail_next:
            self.fail_next -= 1
            raise DependencyUnavailableError("Could not start the workflow; try again.")
        self.executions.setdefault(name, copy.deepcopy(dict(payload)))


class FakeSigner:
    """`MediaSigner` with a fixed clock: a recognisable token per video, so a test sees which one it got."""

    def __init__(self, cdn_url: str = "https://cdn.test", now: int = 1_900_000_000) -> None:
        self.cdn_url = cdn_url
        self.now = now

    def public_prefix(self, media_prefix: str) -> str:
        return f"{self.cdn_url}/media/{media_prefix}"

    def sign_video(self, video_id: str, now: float | None = None) -> SignedPrefix:
        expires = int(self.now if now is None else now) + 6 * 3600
        return SignedPrefix(f"{self.cdn_url}/media/s/token-{video_id}/hls/{video_id}/", expires)


class RecordingCache:
    """`MediaCache` that keeps the paths it was asked to invalidate."""

    def __init__(self) -> None:
        self.invalidated: list[list[str]] = []

    def invalidate(self, paths: list[str]) -> None:
        self.invalidated.append(list(paths))


@dataclass
class VideosWorld:
    """Every videos port faked, and each use case built on them as functions/videos/wiring.py builds it
    on the adapters."""

    repo: InMemoryVideos = field(default_factory=InMemoryVideos)
    uploads: InMemoryUploads = field(default_factory=InMemoryUploads)
    media: InMemoryMedia = field(default_factory=InMemoryMedia)
    events: RecordingEvents = field(default_factory=RecordingEvents)
    workflow: RecordingWorkflow = field(default_factory=RecordingWorkflow)
    signer: FakeSigner = field(default_factory=FakeSigner)
    cache: RecordingCache = field(default_factory=RecordingCache)
    # The service's clock; real time by default, as the records' `updated_at` stamps are.
    now: float = field(default_factory=time.time)

    def clock(self) -> float:
        return self.now

    def service(
        self, limits: UploadLimits | None = None, storage_quotas: Mapping[str, int] | None = None
    ) -> VideoService:
        return VideoService(
            self.repo,
            self.uploads,
            self.events,
            limits or UploadLimits(),
            delete_workflow=self.workflow,
            signer=self.signer,
            clock=self.clock,
            storage_quotas=dict(storage_quotas or STORAGE_QUOTAS),
        )

    def ingest(self) -> Ingest:
        return Ingest(self.repo, self.uploads, self.events)

    def deletion(self) -> Deletion:
        return Deletion(self.repo, self.uploads, self.media, self.events, self.cache)

    def sweeper(self) -> Sweeper:
        return Sweeper(self.repo, self.uploads, clock=self.clock)

    def media_moves(self) -> MediaMoves:
        return MediaMoves(self.repo, self.media, self.cache)

    def publishing(self) -> Publishing:
        return Publishing(self.repo, self.media, self.events, self.cache)
