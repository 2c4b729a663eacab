"""Video use cases. They decide; dal.py, storage.py and signing.py fetch, store and sign. No boto3 here."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from functions.shared.cdn import MediaCache
from functions.shared.errors import ConflictError, NotFoundError, QuotaExceededError
from functions.shared.observability import count
from functions.shared.plans import STORAGE_QUOTAS, storage_quota
from functions.shared.principal import Caller
from functions.videos import uploads
from functions.videos.dal import OverQuotaError, VersionConflictError, VideoRepository
from functions.videos.models import (
    CompleteUploadRequest,
    CreatedVideo,
    CreateVideoRequest,
    PartUrl,
    Playback,
    ReceivedPart,
    Status,
    UpdateVideoRequest,
    UploadInstructions,
    UploadProgress,
    UploadRecord,
    VideoList,
    VideoOut,
    VideoRecord,
    Visibility,
)
from functions.videos.signing import MediaSigner
from functions.videos.storage import UploadStore
from functions.videos.uploads import UploadLimits

SAVE_ATTEMPTS = 5
UPLOAD_ABORTED = "The upload was aborted by its owner."


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def size_text(n: int) -> str:
    """Bytes as a person reads them (binary units, as the quotas are set)."""
    for unit, scale in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class Publisher(Protocol):
    def publish(self, detail_type: str, detail: dict[str, Any]) -> None: ...


class Workflow(Protocol):
    def start(self, name: str, payload: dict[str, Any]) -> None: ...


def _visible_to(video: VideoRecord, caller: Caller) -> bool:
    return video.owner_id == caller.user_id or (
        video.visibility is Visibility.PUBLIC and video.status is not Status.DELETING
    )


@dataclass
class VideoService:
    repo: VideoRepository
    uploads: UploadStore
    events: Publisher
    limits: UploadLimits
    clock: Callable[[], float] = field(default=time.time)
    storage_quotas: Mapping[str, int] = field(default_factory=lambda: dict(STORAGE_QUOTAS))

    # --- reading -----------------------------------------------------------------------------------

    def _owned(self, video_id: str, caller: Caller) -> VideoRecord:
        """The caller's video. Someone else's is 'not found': never confirm it exists."""
        video = self.repo.get(video_id)
        if video is None or video.owner_id != caller.user_id:
            raise NotFoundError(f"No video {video_id}.")
        return video

    def get(self, video_id: str, caller: Caller) -> VideoOut:
        video = self.repo.get(video_id)
        if video is None or not _visible_to(video, caller):
            raise NotFoundError(f"No video {video_id}.")
        return video.public()

    def list(
        self,
        caller: Caller,
        scope: str,
        limit: int,
        cursor: str | None,
        status: Status | None,
        tag: str | None,
        visibility: Visibility | None,
    ) -> VideoList:
        filters = {"status": status, "tags": tag, "visibility": visibility}
        if scope == "public":
            page = self.repo.list_public(limit, cursor, filters)
        else:
            page = self.repo.list_owned(caller.user_id, limit, cursor, filters)
        return VideoList(items=[v.public() for v in page.items], next_cursor=page.next_cursor)

    # --- creating and uploading ----------------------------------------------------------------------

    def create(self, request: CreateVideoRequest, caller: Caller) -> CreatedVideo:
        upload = request.upload
        uploads.check(upload.content_type, upload.size_bytes, self.limits.max_bytes)
        quota = storage_quota(caller.plan, self.storage_quotas)
        if upload.size_bytes > quota:  # cannot fit whatever is freed: say so before anything is started
            raise self._over_quota(caller, quota, upload.size_bytes)
        video_id = uuid.uuid4().hex
        key = uploads.original_key(video_id, upload.filename)
        plan = uploads.plan(upload.size_bytes, self.limits)
        deadline = int(self.clock()) + uploads.UPLOAD_WINDOW_S
        record = UploadRecord(
            key=key,
            filename=upload.filename,
            content_type=upload.content_type,
            size_bytes=upload.size_bytes,
            method="PUT" if plan.method == "PUT" else "multipart",
            part_size=plan.part_size,
            part_count=plan.part_count,
            expires_at=deadline,
        )
        if plan.method == "multipart":
            record.upload_id = self.uploads.start_multipart(key, upload.content_type)
        stamp = now_iso()
        video = VideoRecord(
            id=video_id,
            owner_id=caller.user_id,
            title=request.title,
            description=request.description,
            tags=request.tags,
            visibility=request.visibility,
            upload=record,
            charged="reserved",  # the declared size counts against the quota until the file is in
            created_at=stamp,
            updated_at=stamp,
        )
        try:
            self.repo.create(video, quota)
        except Exception as exc:
            if record.upload_id:  # no record, so no open upload either
                self.uploads.abort(key, record.upload_id)
            if isinstance(exc, OverQuotaError):
                raise self._over_quota(caller, quota, upload.size_bytes) from None
            raise
        count("VideoCreated")
        return CreatedVideo(video=video.public(), upload=self._instructions(record))

    def _over_quota(self, caller: Caller, quota: int, requested: int) -> QuotaExceededError:
        usage = self.repo.usage(caller.user_id)
        return QuotaExceededError(
            f"This upload needs {size_text(requested)}, but your storage quota ({caller.plan} plan) is "
            f"{size_text(quota)} and {size_text(usage.used)} of it is in use (stored videos plus uploads "
            "still awaited). Delete videos or abort unfinished uploads to make room.",
            details=[
                {
                    "plan": caller.plan,
                    "quota_bytes": quota,
                    "used_bytes": usage.used,
                    "stored_bytes": usage.stored,
                    "reserved_bytes": usage.reserved,
                    "requested_bytes": requested,
                }
            ],
        )

    def _instructions(self, record: UploadRecord) -> UploadInstructions:
        expires_s = max(60, record.expires_at - int(self.clock()))
        if record.method == "PUT":
            url, headers = self.uploads.presign_put(
                record.key, record.content_type, record.size_bytes, expires_s
            )
            return UploadInstructions(
                method="PUT", url=url, headers=headers, expires_at=iso(record.expires_at)
            )
        parts = [self._part_url(record, n, expires_s) for n in range(1, (record.part_count or 0) + 1)]
        return UploadInstructions(
            method="multipart",
            upload_id=record.upload_id,
            part_size=record.part_size,
            parts=parts,
            expires_at=iso(record.expires_at),
        )

    def _part_url(self, record: UploadRecord, number: int, expires_s: int) -> PartUrl:
        assert record.upload_id is not None
        assert record.part_size is not None
        length = uploads.part_length(record.size_bytes, record.part_size, number)
        return PartUrl(
            part_number=number,
            url=self.uploads.presign_part(record.key, record.upload_id, number, length, expires_s),
        )

    def _awaiting(self, video_id: str, caller: Caller) -> VideoRecord:
        video = self._owned(video_id, caller)
        if video.status is not Status.AWAITING_UPLOAD:
            raise ConflictError(f"The video is {video.status.value}; its upload is closed.")
        return video

    def upload_progress(self, video_id: str, caller: Caller) -> UploadProgress:
        """What arrived so far and fresh URLs for the rest: how a client resumes an interrupted upload."""
        record = self._awaiting(video_id, caller).upload
        expires_s = max(60, record.expires_at - int(self.clock()))
        if record.method == "PUT":
            url, _ = self.uploads.presign_put(record.key, record.content_type, record.size_bytes, expires_s)
            return UploadProgress(
                method="PUT",
                received=[],
                missing=[PartUrl(part_number=1, url=url)],
                part_size=None,
                upload_id=None,
                expires_at=iso(record.expires_at),
            )
        assert record.upload_id is not None
        stored = self.uploads.parts(record.key, record.upload_id)
        arrived = {p.part_number for p in stored}
        missing = [
            self._part_url(record, n, expires_s)
            for n in range(1, (record.part_count or 0) + 1)
            if n not in arrived
        ]
        return UploadProgress(
            method="multipart",
            part_size=record.part_size,
            upload_id=record.upload_id,
            received=[ReceivedPart(part_number=p.part_number, etag=p.etag, size=p.size) for p in stored],
            missing=missing,
            expires_at=iso(record.expires_at),
        )

    def complete_upload(self, video_id: str, request: CompleteUploadRequest, caller: Caller) -> VideoOut:
        video = self._awaiting(video_id, caller)
        record = video.upload
        if record.method != "multipart" or record.upload_id is None:
            raise ConflictError("This upload is a single PUT: it completes when the PUT succeeds.")
        numbers = [p.part_number for p in request.parts]
        if sorted(numbers) != list(range(1, (record.part_count or 0) + 1)):
            raise ConflictError(f"Expected parts 1..{record.part_count}, each once; got {sorted(numbers)}.")
        # The upload-event consumer moves the record to `uploaded` once S3 has the assembled object.
        self.uploads.complete(record.key, record.upload_id, [(p.part_number, p.etag) for p in request.parts])
        return video.public()

    def abort_upload(self, video_id: str, caller: Caller) -> VideoOut:
        """Abandon a multipart upload: S3 drops the parts, and the video fails with the reason (the owner
        then deletes it, or creates it again). S3 first, then the record: a failure in between leaves the
        video awaiting its upload, and aborting again finishes."""
        video = self._awaiting(video_id, caller)
        record = video.upload
        if record.method != "multipart" or record.upload_id is None:
            raise ConflictError(
                "This upload is a single PUT: there is nothing to abort. Delete the video to abandon it."
            )
        if not self.uploads.abort(record.key, record.upload_id) and self.uploads.head(record.key) is not None:
            # S3 no longer has the upload open because it was completed: the file is in and being checked.
            raise ConflictError("This upload was already completed; it can no longer be aborted.")
        # its declared size no longer counts against the quota
        return self._transition(video, status=Status.FAILED, error=UPLOAD_ABORTED, charged=None).public()

    # --- changing ------------------------------------------------------------------------------------

    def update(self, video_id: str, request: UpdateVideoRequest, caller: Caller) -> VideoOut:
        """Read, apply, write if unchanged meanwhile; on a race, re-apply to the newer state. An update
        therefore never overwrites another one it did not see, and a client that sends `version` gets a
        409 instead of applying its change over someone else's."""
        changes = request.model_dump(exclude_unset=True, exclude={"version"})
        for _ in range(SAVE_ATTEMPTS):
            video = self._owned(video_id, caller)
            if video.status is Status.DELETING:
                raise ConflictError("The video is being deleted.")
            if request.version is not None and request.version != video.version:
                raise ConflictError(
                    f"The video changed since version {request.version}; it is at {video.version}."
                )
            updated = video.changed(**changes)
            try:
                self.repo.save(updated, expected_version=video.version)
            except VersionConflictError:
                if request.version is not None:
                    raise ConflictError("The video changed while this update was being applied.") from None
                continue
            if updated.visibility is not video.visibility and updated.media_prefix:
                # Its files must move to where the CDN serves that visibility (functions/videos/media.py).
                self.events.publish(
                    "video.visibility_changed",
                    {
                        "video_id": video.id,
                        "owner_id": video.owner_id,
                        "visibility": updated.visibility.value,
                    },
                )
            return updated.public()
        raise ConflictError("The video is changing too often to update now; try again.")

    def _transition(self, video: VideoRecord, **changes: Any) -> VideoRecord:
        updated = video.changed(**changes)
        try:
            self.repo.save(updated, expected_version=video.version, previous=video)
        except VersionConflictError:
            raise ConflictError("The video changed meanwhile; look at it again and retry.") from None
        return updated

    def retry_transcode(self, video_id: str, caller: Caller) -> VideoOut:
        """A failed video whose original is intact goes back to `uploaded`, which starts processing again."""
        video = self._owned(video_id, caller)
        if video.status is not Status.FAILED:
            raise ConflictError(f"Only a failed video can be retried; this one is {video.status.value}.")
        if video.source_etag is None or self.uploads.head(video.upload.key) is None:
            raise ConflictError("The upload itself failed: create the video again and upload the file.")
        updated = self._transition(video, status=Status.UPLOADED, error=None, progress=0)
        self.events.publish(
            "video.uploaded",
            {
                "video_id": video.id,
                "owner_id": video.owner_id,
                "filename": video.upload.filename,
                "key": video.upload.key,
                "etag": video.source_etag,
                "size_bytes": video.upload.size_bytes,
                "retry": True,
            },
        )
        return updated.public()

    def cancel_transcode(self, video_id: str, caller: Caller) -> VideoOut:
        """Stop processing: the video fails with the reason, and the pipeline is told to stop and clean up."""
        video = self._owned(video_id, caller)
        if video.status not in {Status.UPLOADED, Status.PROCESSING}:
            raise ConflictError(
                f"Only a video being processed can be cancelled; this one is {video.status.value}."
            )
        updated = self._transition(
            video, status=Status.FAILED, error="Processing was cancelled by its owner."
        )
        self.events.publish("video.transcode_cancelled", {"video_id": video.id, "owner_id": video.owner_id})
        return updated.public()

    def start_delete(self, video_id: str, caller: Caller, workflow: Workflow) -> VideoOut:
        video = self._owned(video_id, caller)
        attempt = uuid.uuid4().hex[:8]
        # The saga marks the record `deleting` as its first step; a video already `deleting` (a failed
        # run) is simply run again: every step is idempotent.
        workflow.start(f"{video.id}-{attempt}", {"video": {"id": video.id, "owner_id": video.owner_id}})
        return video.public()

    # --- playback ------------------------------------------------------------------------------------

    def playback(self, video_id: str, caller: Caller, signer: MediaSigner) -> Playback:
        """URLs for the player: plain for public media, else under a playback token that opens exactly this
        video's directory, so every URL the player resolves from the master playlist carries it."""
        video = self.repo.get(video_id)
        if video is None or not _visible_to(video, caller):
            raise NotFoundError(f"No video {video_id}.")
        if video.status is not Status.READY or not video.media_prefix:
            raise ConflictError(f"The video is {video.status.value}; it plays once it is ready.")
        expires_at: str | None = None
        if video.media_prefix.startswith("public/"):
            prefix_url = signer.public_prefix(video.media_prefix)
        else:
            signed = signer.sign_video(video.id)
            prefix_url = signed.url
            expires_at = datetime.fromtimestamp(signed.expires_at, UTC).isoformat(timespec="seconds")
        return Playback(
            hls_url=f"{prefix_url}master.m3u8",
            poster_url=f"{prefix_url}poster.jpg",
            storyboard_url=f"{prefix_url}storyboard.vtt",
            expires_at=expires_at,
        )


def cached_media_paths(video_id: str) -> list[str]:
    """Where the CDN may hold a video's media: its cache keys are the paths after the viewer-request
    functions rewrote them (`/hls/<id>/...`, `/public/hls/<id>/...`); the public viewer path is added in
    case the cache is keyed before the rewrite. One wildcard path each (invalidations are billed per path)."""
    return [f"/hls/{video_id}/*", f"/public/hls/{video_id}/*", f"/media/public/hls/{video_id}/*"]


# --- upload notifications ------------------------------------------------------------------------------


@dataclass
class Ingest:
    """S3 says an original arrived: check it against what was declared, then mark the video uploaded."""

    repo: VideoRepository
    uploads: UploadStore
    events: Publisher

    def object_created(self, key: str, size: int, etag: str) -> str:
        video_id = uploads.video_id_from_key(key)
        video = self.repo.get(video_id) if video_id else None
        if video_id and (video is None or video.status is Status.DELETING):
            # A PUT URL outlived its video (deleted, or being deleted after its files went): the file
            # must not stay, uncounted against any quota.
            self.uploads.delete(key)
            return "removed: the video is deleted"
        if video is None or video.upload.key != key:
            return "ignored: no video awaits this key"
        if video.status is not Status.AWAITING_UPLOAD:
            return f"ignored: the video is already {video.status.value}"  # a redelivered notification
        declared = video.upload.size_bytes
        if size != declared:
            # AWS refuses a presigned PUT of another length; this also covers stores that do not.
            return self._fail(video, f"The uploaded file is {size} bytes but {declared} were declared.")
        found = self.uploads.head(key)
        if found is None:
            return "ignored: the object is gone"
        if found.content_type.split(";")[0].lower() != video.upload.content_type.split(";")[0].lower():
            return self._fail(
                video,
                f"The uploaded file's type is {found.content_type!r}, not "
                f"{video.upload.content_type!r} as declared.",
            )
        # The real size is known (and is the declared one): the reservation becomes stored bytes.
        updated = video.changed(
            status=Status.UPLOADED, source_etag=etag, charged="stored" if video.charged else None
        )
        try:
            self.repo.save(updated, expected_version=video.version, previous=video)
        except VersionConflictError:
            raise ConflictError(f"video {video.id} changed while marking it uploaded; retry") from None
        self.events.publish(
            "video.uploaded",
            {
                "video_id": video.id,
                "owner_id": video.owner_id,
                "filename": video.upload.filename,
                "key": key,
                "etag": etag,
                "size_bytes": size,
            },
        )
        count("UploadReceived")
        count("UploadBytes", size)
        return "uploaded"

    def _fail(self, video: VideoRecord, reason: str) -> str:
        count("UploadRejected")
        self.uploads.delete(video.upload.key)
        updated = video.changed(status=Status.FAILED, error=reason, charged=None)  # its bytes are freed
        try:
            self.repo.save(updated, expected_version=video.version, previous=video)
        except VersionConflictError:
            raise ConflictError(f"video {video.id} changed while failing it; retry") from None
        return f"failed: {reason}"


# --- the delete saga -----------------------------------------------------------------------------------


@dataclass
class Deletion:
    """The delete saga's steps, in the order infra/workflows/video_delete.asl.json runs them:
    mark_deleting, delete_objects, publish_deleted, delete_record. The record goes last, so a failure in
    any step finds it and leaves it `deleting` with the reason (record_failure), and DELETE again runs the
    saga anew. Each step is idempotent; `video.deleted` is therefore published at least once, not once."""

    repo: VideoRepository
    uploads: UploadStore
    media_bucket: str
    delete_prefix: Callable[[str, str], int]
    events: Publisher
    media_cache: MediaCache

    def mark_deleting(self, video_id: str) -> None:
        for _ in range(SAVE_ATTEMPTS):
            video = self.repo.get(video_id)
            if video is None or (video.status is Status.DELETING and video.error is None):
                return
            updated = video.changed(status=Status.DELETING, error=None)
            try:
                self.repo.save(updated, expected_version=video.version)
                return
            except VersionConflictError:
                continue
        raise ConflictError(f"video {video_id} kept changing; retry")

    def delete_objects(self, video_id: str) -> int:
        video = self.repo.get(video_id)
        if video is None:
            return 0
        if video.upload.upload_id:
            self.uploads.abort(video.upload.key, video.upload.upload_id)
        removed = self.delete_prefix(self.uploads.bucket, f"originals/{video_id}/")
        for prefix in {f"hls/{video_id}/", f"public/hls/{video_id}/", video.media_prefix}:
            if prefix:
                removed += self.delete_prefix(self.media_bucket, prefix)
        # Media is cached at the edge for a year: without this, a deleted video keeps playing from the CDN.
        self.media_cache.invalidate(cached_media_paths(video_id))
        return removed

    def delete_record(self, video_id: str) -> None:
        """The record goes, and with it (same transaction) what it counted against its owner's quota."""
        for _ in range(SAVE_ATTEMPTS):
            video = self.repo.get(video_id)
            if video is None:  # a retried step whose first delete landed: released then
                return
            try:
                self.repo.delete(video)
                return
            except VersionConflictError:
                continue
        raise ConflictError(f"video {video_id} kept changing; retry")

    def publish_deleted(self, video_id: str, owner_id: str) -> None:
        self.events.publish("video.deleted", {"video_id": video_id, "owner_id": owner_id})
        count("VideoDeleted")

    def record_failure(self, video_id: str, error: dict[str, Any]) -> None:
        video = self.repo.get(video_id)
        if video is None:
            return
        cause = str(error.get("Cause") or error.get("Error") or "unknown error")[:500]
        reason = (
            f"Deleting did not finish ({error.get('Error', 'error')}): {cause}. Delete it again to finish."
        )
        updated = video.changed(status=Status.DELETING, error=reason)
        try:
            self.repo.save(updated, expected_version=video.version)
        except VersionConflictError:
            raise ConflictError(f"video {video_id} changed while recording the failure; retry") from None


# --- abandoned uploads -----------------------------------------------------------------------------------


@dataclass
class Sweeper:
    repo: VideoRepository
    uploads: UploadStore
    clock: Callable[[], float] = field(default=time.time)

    def expire_uploads(self) -> int:
        expired = 0
        for video in self.repo.overdue_uploads(int(self.clock())):
            if video.upload.upload_id:
                self.uploads.abort(video.upload.key, video.upload.upload_id)
            hours = uploads.UPLOAD_WINDOW_S // 3600
            updated = video.changed(
                status=Status.FAILED,
                error=f"The upload was not completed within {hours} hours.",
                charged=None,  # the reservation is released with the failure
            )
            try:
                self.repo.save(updated, expected_version=video.version, previous=video)
            except VersionConflictError:
                continue  # it changed (the upload just arrived?): the next sweep looks again
            expired += 1
        return expired
