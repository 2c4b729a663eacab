"""The publish workflow's record steps. The record is the one place of truth for status, so only the
videos domain changes it: the transcoder reports progress and returns what it made.

Input: {"step": "claim" | "mark_ready" | "mark_failed", "video_id", "attempt", ...}.

`attempt` (the workflow's execution id) names the run that claimed the video, stored on the record as
`attempt`. A cancel followed by a retry starts a new run while the old one may still be going; every
step of the old run is then a no-op: it never deletes the shared output prefix nor sets the status.
"""

from __future__ import annotations

import functools
import json
import uuid
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.shared.events import EventPublisher
from functions.shared.observability import count, logger, metrics
from functions.videos import settings
from functions.videos.dal import VersionConflictError, VideoRepository
from functions.videos.logic import Publisher
from functions.videos.media import prefix_for
from functions.videos.models import Status, VideoRecord, Visibility
from functions.videos.storage import delete_prefix

ATTEMPTS = 5
USER_ERRORS = {"UnplayableSourceError"}  # their message is written for the video's owner
GENERIC_FAILURE = "Processing failed on our side. Retry it; if it fails again, contact support."
SUPERSEDED = "SupersededError"  # the transcoder saw a newer attempt on the record and stopped


def _error_type(error: dict[str, Any]) -> str:
    try:
        cause = json.loads(error.get("Cause") or "{}")
    except ValueError:
        cause = {}
    return str((cause.get("errorType") if isinstance(cause, dict) else None) or error.get("Error", ""))


def failure_reason(error: dict[str, Any]) -> str:
    """What to tell the owner: the probe's own words for an unplayable file, a generic line otherwise."""
    try:
        cause = json.loads(error.get("Cause") or "{}")
    except ValueError:
        cause = {}
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
    ran, the private one (functions/transcode/handler.py writes there instead of public/)."""
    private = prefix_for(video_id, Visibility.PRIVATE)
    return sorted({private, media_prefix} - {None}) if media_prefix else [private]


def _serves(video: VideoRecord, prefix: str) -> bool:
    """The ready video plays from `prefix`: whatever happened to this run, those files stay."""
    return video.status is Status.READY and video.media_prefix == prefix


@dataclass
class Publishing:
    repo: VideoRepository
    media_bucket: str
    events: Publisher

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
        for _ in range(ATTEMPTS):
            video = self.repo.get(video_id)
            if video is None or video.source_etag != etag:
                return {"claimed": False}
            if video.status is Status.PROCESSING and video.attempt == attempt:
                return self._claimed(video, attempt)
            if video.status is not Status.UPLOADED:
                return {"claimed": False}
            try:
                self._save(video, attempt, status=Status.PROCESSING, progress=0, error=None)
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

    def mark_ready(self, video_id: str, output: dict[str, Any], attempt: str | None = None) -> str:
        prefix = str(output["media_prefix"])
        for _ in range(ATTEMPTS):
            video = self.repo.get(video_id)
            if video is not None and _superseded(video, attempt):
                # A newer run owns the record and writes the same prefix: deleting it would delete
                # that run's output, and its status is not ours to set.
                return "superseded"
            if video is not None and _serves(video, prefix) and video.attempt == attempt:
                return "ready"  # a retried MarkReady whose first write landed
            if video is None or video.status is not Status.PROCESSING:
                # cancelled or deleted meanwhile: keep nothing
                for written in _run_prefixes(video_id, prefix):
                    if video is None or not _serves(video, written):
                        delete_prefix(self.media_bucket, written)
                return "discarded"
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
            self.events.publish(
                "video.ready",
                {
                    "video_id": video.id,
                    "owner_id": video.owner_id,
                    "duration_s": ready.duration_s,
                    "renditions": ready.renditions,
                },
            )
            if prefix != prefix_for(
                ready.id, ready.visibility
            ):  # its visibility changed while it was encoding
                self.events.publish(
                    "video.visibility_changed",
                    {"video_id": ready.id, "owner_id": ready.owner_id, "visibility": ready.visibility.value},
                )
            count("VideoReady")
            return "ready"
        raise VersionConflictError(video_id)

    def mark_failed(
        self,
        video_id: str,
        media_prefix: str | None,
        error: dict[str, Any],
        attempt: str | None = None,
        claimed: bool = True,
        etag: str | None = None,
    ) -> str:
        """Remove the run's partial output and fail the video with the reason, unless a newer run owns
        it. `claimed` is False when the Claim step itself failed: the video is then still `uploaded`
        (or `processing` under this very attempt, if the claim's write landed before the failure)."""
        reason = failure_reason(error)
        for _ in range(ATTEMPTS):
            video = self.repo.get(video_id)
            if video is None:
                if media_prefix:
                    for written in _run_prefixes(video_id, media_prefix):  # deleted meanwhile: keep nothing
                        delete_prefix(self.media_bucket, written)
                return "gone"
            if _error_type(error) == SUPERSEDED:
                # The run saw a newer attempt on the record: that is final.
                return "superseded"
            if not claimed:  # nothing was encoded: only the record may need failing
                failing = (video.status is Status.UPLOADED and video.source_etag == etag) or (
                    video.status is Status.PROCESSING
                    and video.attempt is not None
                    and video.attempt == attempt
                )
            else:
                if _superseded(video, attempt):
                    return "superseded"  # the newer run's files and status are not ours to touch
                for written in _run_prefixes(video_id, media_prefix) if media_prefix else []:
                    if not _serves(video, written):
                        delete_prefix(self.media_bucket, written)  # no half-written ladder stays behind
                failing = video.status is Status.PROCESSING
            if not failing:  # cancelled by its owner (their reason stands), or already settled
                return f"left {video.status.value}"
            try:
                self._save(video, attempt, status=Status.FAILED, error=reason)
            except VersionConflictError:
                continue
            self.events.publish(
                "video.failed", {"video_id": video.id, "owner_id": video.owner_id, "reason": reason}
            )
            count("VideoFailed")
            return "failed"
        raise VersionConflictError(video_id)


@functools.cache
def _publishing() -> Publishing:
    s = settings.settings()
    return Publishing(
        VideoRepository(s.table),
        settings.require(s.media_bucket, "the media bucket"),
        EventPublisher(settings.require(s.event_bus, "the event bus"), "videos"),
    )


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    step, video_id = event["step"], event["video_id"]
    publishing = _publishing()
    if step == "claim":
        result = publishing.claim(video_id, event["etag"], event.get("attempt"))
    elif step == "mark_ready":
        result = {"outcome": publishing.mark_ready(video_id, event["output"], event.get("attempt"))}
    elif step == "mark_failed":
        result = {
            "outcome": publishing.mark_failed(
                video_id,
                event.get("media_prefix"),
                event.get("error") or {},
                attempt=event.get("attempt"),
                claimed=event.get("claimed", True),
                etag=event.get("etag"),
            )
        }
    else:
        raise ValueError(f"unknown publish step {step!r}")
    logger.info("publish step", extra={"step": step, "video_id": video_id, "result": result})
    return result
