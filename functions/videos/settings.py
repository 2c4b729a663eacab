"""One typed environment per videos function. Each one's required fields are exactly what that function's
grants in the topology give it (infra/topology/videos.py, `Topology.environment_for`), so a missing grant fails
the first invocation of a sandbox (wiring validates the whole model then), never a request later on.
Optional fields are tunables with defaults. Each entry module exposes its own as `Settings`."""

from __future__ import annotations

from pydantic import Field, Json

from functions.shared.config import EnvironmentModel


class ApiSettings(EnvironmentModel):
    """`videos`: the HTTP API (functions/videos/handler.py)."""

    table: str = Field(alias="VIDEOS_TABLE_NAME")
    uploads_bucket: str = Field(alias="UPLOADS_BUCKET_NAME")
    event_bus: str = Field(alias="EVENTS_EVENT_BUS_NAME")
    delete_machine: str = Field(alias="VIDEO_DELETE_STATE_MACHINE_ARN")
    media_keys_secret: str = Field(alias="MEDIA_TOKEN_KEYS_SECRET_ID")
    cdn_url: str = Field(alias="CDN_URL")
    max_upload_bytes: int = Field(default=5 * 1024**3, alias="MAX_UPLOAD_BYTES")
    single_put_max_bytes: int = Field(default=100 * 1024**2, alias="SINGLE_PUT_MAX_BYTES")
    min_part_bytes: int = Field(default=16 * 1024**2, alias="MIN_PART_BYTES")
    # JSON {"plan": bytes}: overrides the storage quotas of functions/shared/plans.py for these plans
    storage_quotas: Json[dict[str, int]] | None = Field(default=None, alias="STORAGE_QUOTAS")


class IngestSettings(EnvironmentModel):
    """`videos_ingest`: upload notifications (functions/videos/ingest.py)."""

    table: str = Field(alias="VIDEOS_TABLE_NAME")
    uploads_bucket: str = Field(alias="UPLOADS_BUCKET_NAME")
    event_bus: str = Field(alias="EVENTS_EVENT_BUS_NAME")


class DeleteStepsSettings(EnvironmentModel):
    """`videos_delete_steps`: the delete saga's steps (functions/videos/deletion.py)."""

    table: str = Field(alias="VIDEOS_TABLE_NAME")
    uploads_bucket: str = Field(alias="UPLOADS_BUCKET_NAME")
    media_bucket: str = Field(alias="MEDIA_BUCKET_NAME")
    event_bus: str = Field(alias="EVENTS_EVENT_BUS_NAME")
    cdn_distribution_id: str = Field(alias="CDN_DISTRIBUTION_ID")


class SweeperSettings(EnvironmentModel):
    """`videos_sweeper`: abandoned uploads (functions/videos/sweeper.py)."""

    table: str = Field(alias="VIDEOS_TABLE_NAME")
    uploads_bucket: str = Field(alias="UPLOADS_BUCKET_NAME")


class MediaSettings(EnvironmentModel):
    """`videos_media`: media follows visibility (functions/videos/media.py)."""

    table: str = Field(alias="VIDEOS_TABLE_NAME")
    media_bucket: str = Field(alias="MEDIA_BUCKET_NAME")
    cdn_distribution_id: str = Field(alias="CDN_DISTRIBUTION_ID")


class PublishStepsSettings(EnvironmentModel):
    """`videos_publish_steps`: the publish workflow's record steps (functions/videos/publishing.py)."""

    table: str = Field(alias="VIDEOS_TABLE_NAME")
    media_bucket: str = Field(alias="MEDIA_BUCKET_NAME")
    event_bus: str = Field(alias="EVENTS_EVENT_BUS_NAME")
    cdn_distribution_id: str = Field(alias="CDN_DISTRIBUTION_ID")
