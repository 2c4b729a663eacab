"""The events domains publish on the platform's bus: one model per detail-type, the contract between the
publisher and every consumer (rules in the topology, state machines' input paths, other domains).

A publisher builds the model (`events.publish(VideoReady(...))`); a consumer parses the `detail` with it
(`VideoVisibilityChanged.model_validate(event["detail"])`). A field added here is added for everyone; a
field removed breaks the consumers' tests, not production.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict


class DomainEvent(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    domain: ClassVar[str]  # the source is `skyreel.<domain>`
    detail_type: ClassVar[str]


class VideoEvent(DomainEvent):
    domain: ClassVar[str] = "videos"
    video_id: str
    owner_id: str


class VideoUploaded(VideoEvent):
    """An upload arrived and matches what was declared (or a failed video was retried): publish it."""

    detail_type: ClassVar[str] = "video.uploaded"
    filename: str
    key: str
    etag: str
    size_bytes: int
    retry: bool = False


class VideoVisibilityChanged(VideoEvent):
    """Its media must move to where the CDN serves the new visibility."""

    detail_type: ClassVar[str] = "video.visibility_changed"
    visibility: str


class VideoProgress(DomainEvent):
    """The transcode's progress rose (at most every few seconds): for live views."""

    domain: ClassVar[str] = "videos"
    detail_type: ClassVar[str] = "video.progress"
    video_id: str
    progress: int  # percent of the whole encode, 0..100
    playable: bool = False  # it can be played already (GET /videos/{id}/playback answers), still encoding


class VideoReady(VideoEvent):
    detail_type: ClassVar[str] = "video.ready"
    duration_s: float | None
    renditions: list[dict[str, Any]]


class VideoFailed(VideoEvent):
    detail_type: ClassVar[str] = "video.failed"
    reason: str


class VideoTranscodeCancelled(VideoEvent):
    detail_type: ClassVar[str] = "video.transcode_cancelled"


class VideoDeleted(VideoEvent):
    detail_type: ClassVar[str] = "video.deleted"


class UserRegistered(DomainEvent):
    domain: ClassVar[str] = "auth"
    detail_type: ClassVar[str] = "user.registered"
    user_id: str
    email: str
    display_name: str | None = None
    created_at: str


class SearchJobEvent(DomainEvent):
    """A search job changed status (functions/search/jobs.py): for the dashboard's live view."""

    domain: ClassVar[str] = "search"
    job_id: str
    owner_id: str
    status: str
    attempts: int


class SearchJobQueued(SearchJobEvent):
    detail_type: ClassVar[str] = "search.job.queued"


class SearchJobRunning(SearchJobEvent):
    detail_type: ClassVar[str] = "search.job.running"


class SearchJobCompleted(SearchJobEvent):
    detail_type: ClassVar[str] = "search.job.completed"


class SearchJobFailed(SearchJobEvent):
    detail_type: ClassVar[str] = "search.job.failed"


class SearchJobCancelled(SearchJobEvent):
    detail_type: ClassVar[str] = "search.job.cancelled"
