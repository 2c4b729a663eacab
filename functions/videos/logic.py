"""Video use cases and their rules, against the ports of functions/videos/ports.py only (no boto3 here):
the API's (VideoService), upload notifications (Ingest), abandoned uploads (Sweeper), the delete saga's
steps (Deletion), the publish workflow's record steps (Publishing) and media following visibility
(MediaMoves). The adapters behind the ports are built in functions/videos/wiring.py."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from functions.shared.clock import now_iso
from functions.shared.domain_events import (
    VideoDeleted,
    VideoFailed,
    VideoReady,
    VideoTranscodeCancelled,
    VideoUploaded,
    VideoVisibilityChanged,
)
from functions.shared.errors import (
    ConflictError,
    DependencyUnavailableError,
    NotFoundError,
    QuotaExceededError,
)
from functions.shared.observability import count, logger
from functions.shared.plans import STORAGE_QUOTAS, storage_quota
from functions.shared.principal import Caller
from functions.videos import uploads
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
from functions.videos.ports import (
    Events,
    MediaCache,
    MediaSigner,
    MediaStore,
    OverQuotaError,
    UploadStorage,
    VersionConflictError,
    VideoStore,
    WorkflowStarter,
)
from functions.videos.uploads import UploadLimits

SAVE_ATTEMPTS = 5
UPLOAD_ABORTED = "The upload was aborted by its owner."
# The delete saga's own limit (TimeoutSeconds of infra/workflows/video_delete.asl.json; a test keeps the
# two equal): a `deleting` mark older than this has no saga running for it any more.
DELETE_SAGA_TIMEOUT_S = 3600


def size_text(n: int) -> str:
    """Bytes as a person reads them (binary units, as the quotas are set)."""
    for unit, scale in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def prefix_for(video_id: str, visibility: Visibility) -> str:
    """The one rule for where media goes, used by the transcoder when it writes and by moves."""
    return f"public/hls/{video_id}/" if visibility is Visibility.PUBLIC else f"hls/{video_id}/"


def _visible_to(video: VideoRecord, caller: Caller) -> bool:
    return video.owner_id == caller.user_id or (
        video.visibility is Visibility.PUBLIC and video.status is not Status.DELETING
    )


@dataclass
class VideoService:
    repo: VideoStore
    uploads: UploadStorage
    events: Events
    limits: UploadLimits
    delete_workflow: WorkflowStarter
    signer: MediaSigner
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
                    VideoVisibilityChanged(
                        video_id=video.id, owner_id=video.owner_id, visibility=updated.visibility.value
                    )
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
            VideoUploaded(
                video_id=video.id,
                owner_id=video.owner_id,
                filename=video.upload.filename,
                key=video.upload.key,
                etag=video.source_etag,
                size_bytes=video.upload.size_bytes,
                retry=True,
            )
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
        self.events.publish(VideoTranscodeCancelled(video_id=video.id, owner_id=video.owner_id))
        return updated.public()

    def start_delete(self, video_id: str, caller: Caller) -> VideoOut:
        """Mark the video `deleting` (one conditional write), then start the delete saga, so the 202 tells
        the truth and reads see `deleting` at once.

        The saga's execution is named after the marked version: a repeated DELETE, while that mark stands,
        starts the same name again, which Step Functions answers with the execution it already has (or
        starts it, if the first start never landed): never a second saga. A video whose saga failed
        (`deleting` with the reason in `error`, or a mark older than the saga's time limit) is marked
        anew, under a new version, and the saga runs again. If the start fails, the mark is rolled back
        so the 503 leaves the video as it was."""
        for _ in range(SAVE_ATTEMPTS):
            video = self._owned(video_id, caller)
            if video.status is Status.DELETING and video.error is None and not self._saga_over(video):
                self._start_delete_saga(video)  # already marked: the same name, nothing new
                return video.public()
            marked = video.changed(status=Status.DELETING, error=None)
            try:
                self.repo.save(marked, expected_version=video.version)
            except VersionConflictError:
                continue  # changed meanwhile (perhaps marked by a concurrent DELETE): look again
            try:
                self._start_delete_saga(marked)
            except Exception:
                self._unmark(video, marked)
                raise
            count("VideoDeleteStarted")
            return marked.public()
        raise ConflictError("The video is changing too often to delete now; try again.")

    def _saga_over(self, marked: VideoRecord) -> bool:
        """The saga named after this mark has ended, yet the video is still here without a reason: its
        RecordFailure step failed too. It is then marked anew, under a new name."""
        marked_at = datetime.fromisoformat(marked.updated_at.replace("Z", "+00:00")).timestamp()
        return self.clock() - marked_at > DELETE_SAGA_TIMEOUT_S

    def _start_delete_saga(self, marked: VideoRecord) -> None:
        self.delete_workflow.start(
            f"{marked.id}-v{marked.version}", {"video": {"id": marked.id, "owner_id": marked.owner_id}}
        )

    def _unmark(self, before: VideoRecord, marked: VideoRecord) -> None:
        """Put back the record as it was before the mark, unless something changed it since (a saga whose
        start did land after all has marked nothing new, so this still applies; it then deletes anyway).
        If this write fails too, the video stays `deleting` and a DELETE again starts the same saga."""
        restored = before.model_copy(update={"version": marked.version + 1, "updated_at": now_iso()})
        try:
            self.repo.save(restored, expected_version=marked.version)
        except Exception:  # the start's failure is the one to report
            logger.warning("could not roll back a delete mark", extra={"video_id": before.id})

    # --- playback ------------------------------------------------------------------------------------

    def playback(self, video_id: str, caller: Caller) -> Playback:
        """URLs for the player: plain for public media, else under a playback token that opens exactly this
        video's directory, so every URL the player resolves from the master playlist carries it."""
        video = self.repo.get(video_id)
        if video is None or not _visible_to(video, caller):
            raise NotFoundError(f"No video {video_id}.")
        prefix = video.plays_from()  # ready, or playable while it still encodes
        if not prefix:
            raise ConflictError(f"The video is {video.status.value}; it plays once it is ready.")
        expires_at: str | None = None
        if prefix.startswith("public/"):
            prefix_url = self.signer.public_prefix(prefix)
        else:
            signed = self.signer.sign_video(video.id)
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

    repo: VideoStore
    uploads: UploadStorage
    events: Events

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
            VideoUploaded(
                video_id=video.id,
                owner_id=video.owner_id,
                filename=video.upload.filename,
                key=key,
                etag=etag,
                size_bytes=size,
            )
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

    repo: VideoStore
    uploads: UploadStorage
    media: MediaStore
    events: Events
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
        removed = self.uploads.delete_prefix(f"originals/{video_id}/")
        for prefix in {f"hls/{video_id}/", f"public/hls/{video_id}/", video.media_prefix}:
            if prefix:
                removed += self.media.delete_prefix(prefix)
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
        self.events.publish(VideoDeleted(video_id=video_id, owner_id=owner_id))
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
    repo: VideoStore
    uploads: UploadStorage
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


# --- media follows visibility ----------------------------------------------------------------------------


@dataclass
class MediaMoves:
    """Where a video's media lives follows its visibility: the CDN serves keys under `public/` to anyone and
    every other key only with a playback token. A change of visibility moves the files (copy, switch the
    record, delete the old copies), each step idempotent so a retried event finishes the move."""

    repo: VideoStore
    media: MediaStore
    media_cache: MediaCache

    def follow_visibility(self, video_id: str) -> str:
        for _ in range(SAVE_ATTEMPTS):
            video = self.repo.get(video_id)
            if video is None or not video.media_prefix:
                return "nothing to move"
            if video.status is Status.DELETING:  # the delete saga removes both prefixes: copying would orphan
                return "being deleted"
            target = prefix_for(video.id, video.visibility)
            if video.media_prefix == target:
                if video.visibility is not Visibility.PUBLIC:
                    # a move to public/ that lost the race with a change back: its copy must not stay
                    self.media.delete_prefix(prefix_for(video.id, Visibility.PUBLIC))
                # Also reached by a retried event whose move finished but whose invalidation failed.
                self.media_cache.invalidate(cached_media_paths(video.id))
                return "already in place"
            source = video.media_prefix
            copied = self.media.copy_prefix(source, target)
            try:
                self.repo.save(video.changed(media_prefix=target), expected_version=video.version)
            except VersionConflictError:
                continue  # changed meanwhile (maybe back again): look at it afresh
            self.media.delete_prefix(source)
            # The edge caches media for a year: a video made private must stop playing from its old public URLs.
            self.media_cache.invalidate(cached_media_paths(video.id))
            return f"moved {copied} objects from {source} to {target}"
        raise DependencyUnavailableError(
            f"video {video_id} kept changing during the move; the event will be retried"
        )


# --- the publish workflow's record steps ---------------------------------------------------------------

USER_ERRORS = {"UnplayableSourceError"}  # their message is written for the video's owner
GENERIC_FAILURE = "Processing failed on our side. Retry it; if it fails again, contact support."
SUPERSEDED = "SupersededError"  # the transcoder saw a newer attempt on the record and stopped


def _cause(error: Mapping[str, Any]) -> dict[str, Any]:
    try:
        cause = json.loads(error.get("Cause") or "{}")
    except ValueError:
        return {}
    return cause if isinstance(cause, dict) else {}


def _error_type(error: Mapping[str, Any]) -> str:
    return str(_cause(error).get("errorType") or error.get("Error", ""))


def failure_reason(error: Mapping[str, Any]) -> str:
    """What to tell the owner: the probe's own words for an unplayable file, a generic line otherwise."""
    cause = _cause(error)
    kind = cause.get("errorType") or error.get("Error", "")
    if kind in USER_ERRORS and cause.get("errorMessage"):
        return str(cause["errorMessage"])
    if kind == "States.Timeout":
        return "Processing took longer than allowed. Retry it, or upload a shorter video."
    return GENERIC_FAILURE


def _superseded(video: VideoRecord, attempt: str | None) -> bool:
    """A newer run claimed the video since `attempt` did. A record without one (written before
    attempts existed) supersedes nobody."""
    return bool(attempt and video.attempt and video.attempt != attempt)


def _run_prefixes(video_id: str, media_prefix: str | None) -> list[str]:
    """Where a run may have written: the claim's prefix and, if the video was made private while it
    ran, the private one (the transcoder writes there instead of public/)."""
    private = prefix_for(video_id, Visibility.PRIVATE)
    return sorted({private, media_prefix} - {None}) if media_prefix else [private]


def _all_prefixes(video_id: str) -> list[str]:
    return [prefix_for(video_id, Visibility.PUBLIC), prefix_for(video_id, Visibility.PRIVATE)]


def _serves(video: VideoRecord, prefix: str) -> bool:
    """The ready video plays from `prefix`: whatever happened to this run, those files stay."""
    return video.status is Status.READY and video.media_prefix == prefix


@dataclass
class Publishing:
    """The publish workflow's record steps (infra/workflows/publish.asl.json). The record is the one place
    of truth for status, so only the videos domain changes it: the transcoder reports progress and returns
    what it made.

    `attempt` (the workflow's execution id) names the run that claimed the video, stored on the record as
    `attempt`. A cancel followed by a retry starts a new run while the old one may still be going; every
    step of the old run is then a no-op: it never deletes the shared output prefix nor sets the status."""

    repo: VideoStore
    media: MediaStore
    events: Events
    media_cache: MediaCache

    def _remove(self, video_id: str, prefixes: Iterable[str]) -> None:
        """Delete what runs left under `prefixes`. A streamed encode publishes under public/ as it goes
        (functions/transcode/live.py), and the edge caches media for a year: if anything public went, the
        video's cached paths are invalidated too, or it would keep playing from the edge."""
        public = prefix_for(video_id, Visibility.PUBLIC)
        removed_public = False
        for prefix in prefixes:
            removed = self.media.delete_prefix(prefix)
            removed_public = removed_public or (prefix == public and removed > 0)
        if removed_public:
            self.media_cache.invalidate(cached_media_paths(video_id))

    def _save(self, video: VideoRecord, attempt: str | None, **changes: Any) -> VideoRecord:
        """The next version of the record, owned by `attempt`, conditional on the version read: a newer
        claim in between bumps it, so this can never overwrite that claim."""
        updated = video.changed(attempt=attempt or video.attempt, **changes)
        self.repo.save(updated, expected_version=video.version)
        return updated

    def claim(self, video_id: str, etag: str, attempt: str | None = None) -> dict[str, Any]:
        """uploaded -> processing, once per file version: a duplicate or concurrent event claims nothing.

        The claim records `attempt` (the workflow's execution) as the run that owns the video; a run
        whose attempt is no longer current stops and touches nothing (functions/transcode/progress.py).
        Claiming again with the same attempt (a retried Claim whose first write landed) claims again.
        """
        attempt = attempt or uuid.uuid4().hex
        for _ in range(SAVE_ATTEMPTS):
            video = self.repo.get(video_id)
            if video is None or video.source_etag != etag:
                return {"claimed": False}
            if video.status is Status.PROCESSING and video.attempt == attempt:
                return self._claimed(video, attempt)
            if video.status is not Status.UPLOADED:
                return {"claimed": False}
            try:
                self._save(
                    video,
                    attempt,
                    status=Status.PROCESSING,
                    progress=0,
                    error=None,
                    playable=False,
                    playable_prefix=None,
                )
            except VersionConflictError:
                continue
            return self._claimed(video, attempt)
        return {"claimed": False}

    @staticmethod
    def _claimed(video: VideoRecord, attempt: str) -> dict[str, Any]:
        return {
            "claimed": True,
            "video_id": video.id,
            "key": video.upload.key,
            "media_prefix": prefix_for(video.id, video.visibility),
            # where the transcoder writes instead if the video is no longer public when it writes
            "private_prefix": prefix_for(video.id, Visibility.PRIVATE),
            "attempt": attempt,
        }

    def mark_ready(self, video_id: str, output: Mapping[str, Any], attempt: str | None = None) -> str:
        prefix = str(output["media_prefix"])
        for _ in range(SAVE_ATTEMPTS):
            video = self.repo.get(video_id)
            if video is not None and _superseded(video, attempt):
                # A newer run owns the record and writes the same prefix: deleting it would delete
                # that run's output, and its status is not ours to set.
                return "superseded"
            if video is not None and _serves(video, prefix) and video.attempt == attempt:
                return "ready"  # a retried MarkReady whose first write landed
            if video is None or video.status is not Status.PROCESSING:
                # cancelled or deleted meanwhile: keep nothing
                self._remove(
                    video_id,
                    [w for w in _run_prefixes(video_id, prefix) if video is None or not _serves(video, w)],
                )
                return "discarded"
            # Before it is ready, no other prefix holds anything that stays: an older run's streamed
            # output (a cancel, a visibility change and a retry leave it under the other prefix) goes.
            self._remove(video_id, set(_all_prefixes(video_id)) - {prefix})
            try:
                ready = self._save(
                    video,
                    attempt,
                    status=Status.READY,
                    progress=100,
                    error=None,
                    media_prefix=prefix,
                    duration_s=output["duration_s"],
                    width=output["width"],
                    height=output["height"],
                    renditions=output["renditions"],
                )
            except VersionConflictError:
                continue
            self._announce_ready(ready, prefix)
            return "ready"
        raise VersionConflictError(video_id)

    def _announce_ready(self, ready: VideoRecord, prefix: str) -> None:
        self.events.publish(
            VideoReady(
                video_id=ready.id,
                owner_id=ready.owner_id,
                duration_s=ready.duration_s,
                renditions=ready.renditions,
            )
        )
        if prefix != prefix_for(ready.id, ready.visibility):  # its visibility changed while it was encoding
            self.events.publish(
                VideoVisibilityChanged(
                    video_id=ready.id, owner_id=ready.owner_id, visibility=ready.visibility.value
                )
            )
        count("VideoReady")

    def mark_failed(
        self,
        video_id: str,
        media_prefix: str | None,
        error: Mapping[str, Any],
        attempt: str | None = None,
        claimed: bool = True,
        etag: str | None = None,
    ) -> str:
        """Remove the run's partial output and fail the video with the reason, unless a newer run owns
        it. `claimed` is False when the Claim step itself failed: the video is then still `uploaded`
        (or `processing` under this very attempt, if the claim's write landed before the failure)."""
        reason = failure_reason(error)
        for _ in range(SAVE_ATTEMPTS):
            video = self.repo.get(video_id)
            if video is None:
                if media_prefix:  # deleted meanwhile: keep nothing
                    self._remove(video_id, _run_prefixes(video_id, media_prefix))
                return "gone"
            if _error_type(error) == SUPERSEDED:
                return "superseded"  # the run saw a newer attempt on the record: that is final
            if not claimed:  # nothing was encoded: only the record may need failing
                failing = (video.status is Status.UPLOADED and video.source_etag == etag) or (
                    video.status is Status.PROCESSING
                    and video.attempt is not None
                    and video.attempt == attempt
                )
            else:
                if _superseded(video, attempt):
                    return "superseded"  # the newer run's files and status are not ours to touch
                written = _run_prefixes(video_id, media_prefix) if media_prefix else []
                # no half-written ladder stays behind
                self._remove(video_id, [w for w in written if not _serves(video, w)])
                failing = video.status is Status.PROCESSING
            if not failing:  # cancelled by its owner (their reason stands), or already settled
                return f"left {video.status.value}"
            try:
                self._save(video, attempt, status=Status.FAILED, error=reason)
            except VersionConflictError:
                continue
            self.events.publish(VideoFailed(video_id=video.id, owner_id=video.owner_id, reason=reason))
            count("VideoFailed")
            return "failed"
        raise VersionConflictError(video_id)
