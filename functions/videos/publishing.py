"""The publish workflow's record steps. The record is the one place of truth for status, so only the
videos domain changes it: the transcoder reports progress and returns what it made.

Input: {"step": "claim" | "mark_ready" | "mark_failed", "video_id", ...}.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.shared.events import EventPublisher
from functions.shared.observability import logger
from functions.videos import settings
from functions.videos.dal import VersionConflictError, VideoRepository
from functions.videos.logic import Publisher
from functions.videos.media import prefix_for
from functions.videos.models import Status, VideoRecord
from functions.videos.storage import delete_prefix

ATTEMPTS = 5
USER_ERRORS = {"UnplayableSourceError"}  # their message is written for the video's owner
GENERIC_FAILURE = "Processing failed on our side. Retry it; if it fails again, contact support."


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


@dataclass
class Publishing:
    repo: VideoRepository
    media_bucket: str
    events: Publisher

    def _save(self, video: VideoRecord, **changes: Any) -> VideoRecord:
        updated = video.changed(**changes)
        self.repo.save(updated, expected_version=video.version)
        return updated

    def claim(self, video_id: str, etag: str) -> dict[str, Any]:
        """uploaded -> processing, once per file version: a duplicate or concurrent event claims nothing."""
        for _ in range(ATTEMPTS):
            video = self.repo.get(video_id)
            if video is None or video.status is not Status.UPLOADED or video.source_etag != etag:
                return {"claimed": False}
            try:
                self._save(video, status=Status.PROCESSING, progress=0, error=None)
            except VersionConflictError:
                continue
            return {
                "claimed": True,
                "video_id": video.id,
                "key": video.upload.key,
                "media_prefix": prefix_for(video.id, video.visibility),
            }
        return {"claimed": False}

    def mark_ready(self, video_id: str, output: dict[str, Any]) -> str:
        prefix = str(output["media_prefix"])
        for _ in range(ATTEMPTS):
            video = self.repo.get(video_id)
            if video is None or video.status is not Status.PROCESSING:
                delete_prefix(self.media_bucket, prefix)  # cancelled or deleted meanwhile: keep nothing
                return "discarded"
            try:
                ready = self._save(
                    video,
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
            return "ready"
        raise VersionConflictError(video_id)

    def mark_failed(self, video_id: str, media_prefix: str | None, error: dict[str, Any]) -> str:
        if media_prefix:
            delete_prefix(self.media_bucket, media_prefix)  # no half-written ladder stays behind
        reason = failure_reason(error)
        for _ in range(ATTEMPTS):
            video = self.repo.get(video_id)
            if video is None:
                return "gone"
            if video.status is not Status.PROCESSING:  # cancelled by its owner: their reason stands
                return f"left {video.status.value}"
            try:
                self._save(video, status=Status.FAILED, error=reason)
            except VersionConflictError:
                continue
            self.events.publish(
                "video.failed", {"video_id": video.id, "owner_id": video.owner_id, "reason": reason}
            )
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
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    step, video_id = event["step"], event["video_id"]
    publishing = _publishing()
    if step == "claim":
        result = publishing.claim(video_id, event["etag"])
    elif step == "mark_ready":
        result = {"outcome": publishing.mark_ready(video_id, event["output"])}
    elif step == "mark_failed":
        result = {
            "outcome": publishing.mark_failed(video_id, event.get("media_prefix"), event.get("error") or {})
        }
    else:
        raise ValueError(f"unknown publish step {step!r}")
    logger.info("publish step", extra={"step": step, "video_id": video_id, "result": result})
    return result
