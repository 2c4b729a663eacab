"""The videos functions' typed environment, and their wiring."""

from __future__ import annotations

import functools

from pydantic import Field, Json

from functions.shared import cdn
from functions.shared.cdn import MediaCache
from functions.shared.config import EnvironmentModel
from functions.shared.events import EventPublisher
from functions.shared.plans import STORAGE_QUOTAS
from functions.videos.dal import VideoRepository
from functions.videos.logic import VideoService
from functions.videos.signing import MediaSigner
from functions.videos.storage import UploadStore
from functions.videos.uploads import UploadLimits


class VideoSettings(EnvironmentModel):
    table: str = Field(alias="VIDEOS_TABLE_NAME")
    uploads_bucket: str | None = Field(default=None, alias="UPLOADS_BUCKET_NAME")
    media_bucket: str | None = Field(default=None, alias="MEDIA_BUCKET_NAME")
    event_bus: str | None = Field(default=None, alias="EVENTS_EVENT_BUS_NAME")
    delete_machine: str | None = Field(default=None, alias="VIDEO_DELETE_STATE_MACHINE_ARN")
    media_keys_secret: str | None = Field(default=None, alias="MEDIA_TOKEN_KEYS_SECRET_ID")
    cdn_url: str | None = Field(default=None, alias="CDN_URL")
    cdn_distribution_id: str | None = Field(default=None, alias="CDN_DISTRIBUTION_ID")
    max_upload_bytes: int = Field(default=5 * 1024**3, alias="MAX_UPLOAD_BYTES")
    single_put_max_bytes: int = Field(default=100 * 1024**2, alias="SINGLE_PUT_MAX_BYTES")
    min_part_bytes: int = Field(default=16 * 1024**2, alias="MIN_PART_BYTES")
    # JSON {"plan": bytes}: overrides the storage quotas of functions/shared/plans.py for these plans
    storage_quotas: Json[dict[str, int]] | None = Field(default=None, alias="STORAGE_QUOTAS")


@functools.cache
def settings() -> VideoSettings:
    loaded = VideoSettings.from_environment()
    assert isinstance(loaded, VideoSettings)
    return loaded


def require(value: str | None, what: str) -> str:
    if value is None:
        raise RuntimeError(f"this function was not granted {what}")
    return value


@functools.cache
def service() -> VideoService:
    s = settings()
    return VideoService(
        VideoRepository(s.table),
        UploadStore(require(s.uploads_bucket, "the uploads bucket")),
        EventPublisher(require(s.event_bus, "the event bus"), "videos"),
        UploadLimits(s.max_upload_bytes, s.single_put_max_bytes, s.min_part_bytes),
        storage_quotas={**STORAGE_QUOTAS, **(s.storage_quotas or {})},
    )


@functools.cache
def signer() -> MediaSigner:
    s = settings()
    return MediaSigner(
        require(s.media_keys_secret, "the media token keys"), require(s.cdn_url, "the CDN's URL")
    )


@functools.cache
def media_cache() -> MediaCache:
    return cdn.media_cache(require(settings().cdn_distribution_id, "the CDN distribution"))
