"""Models: requests and responses (the API) and the stored record. Never return a record raw."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, field_validator

from functions.shared.clock import now_iso
from functions.videos.uploads import VIDEO_TYPES


class Visibility(StrEnum):
    PUBLIC = "public"  # listed in the catalogue, plain media URLs
    UNLISTED = "unlisted"  # owner only (like private) until sharing links exist; signed media URLs
    PRIVATE = "private"


class Status(StrEnum):
    AWAITING_UPLOAD = "awaiting_upload"
    UPLOADED = "uploaded"
    PROCESSING = "processing"
    READY = "ready"
    FAILED = "failed"
    DELETING = "deleting"


MAX_TAG_LENGTH = 40
MAX_TAGS = 20
# A tag as the schema states it; the validator below also trims and lowercases it and drops blanks.
Tag = Annotated[str, Field(max_length=MAX_TAG_LENGTH, examples=["travel"])]


def _clean_tags(tags: list[str]) -> list[str]:
    cleaned = sorted({t.strip().lower() for t in tags if t.strip()})
    if any(len(t) > MAX_TAG_LENGTH for t in cleaned):
        raise ValueError(f"a tag is at most {MAX_TAG_LENGTH} characters")
    return cleaned


# --- API ---------------------------------------------------------------------------------------------


_VIDEO_TYPES: list[JsonValue] = [t for t in sorted(VIDEO_TYPES)]


class UploadRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    filename: str = Field(min_length=1, max_length=255, examples=["holiday.mp4"])
    # The schema names the accepted types (uploads.VIDEO_TYPES, the list the create checks against); the
    # server also takes them with parameters or in any case, and answers any other type with a 415.
    content_type: str = Field(
        min_length=3,
        max_length=100,
        json_schema_extra={"enum": _VIDEO_TYPES},
        description="The file's video type; any other is refused with 415",
    )
    size_bytes: int = Field(gt=0, description="Over the account's limit: 413", examples=[10_485_760])


class CreateVideoRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str = Field(min_length=1, max_length=200, examples=["Holiday in Lisbon"])
    description: str = Field(default="", max_length=5000)
    tags: list[Tag] = Field(default_factory=list, max_length=MAX_TAGS)
    visibility: Visibility = Visibility.PRIVATE
    upload: UploadRequest

    @field_validator("tags")
    @classmethod
    def clean(cls, value: list[str]) -> list[str]:
        return _clean_tags(value)


# What a PATCH may change. Leaving a field out leaves it as it is; `null` is not a value for any of them
# (a stored video always has a title, a description, tags and a visibility).
_CHANGEABLE = ("title", "description", "tags", "visibility")


def _without_null(schema: dict[str, JsonValue]) -> None:
    """The schema of UpdateVideoRequest states what its validator enforces: no `null` for _CHANGEABLE."""
    properties = schema.get("properties")
    assert isinstance(properties, dict)
    for name in _CHANGEABLE:
        field = properties[name]
        assert isinstance(field, dict)
        options = field.pop("anyOf", None)
        if isinstance(options, list):
            field.update(next(o for o in options if isinstance(o, dict) and o.get("type") != "null"))
        field.pop("default", None)


class UpdateVideoRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra=_without_null)
    title: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=5000)
    tags: list[Tag] | None = Field(default=None, max_length=MAX_TAGS)
    visibility: Visibility | None = None
    version: int | None = Field(
        default=None, ge=1, description="Refuse the update (409) unless this is current"
    )

    @field_validator(*_CHANGEABLE, mode="before")
    @classmethod
    def not_null(cls, value: object) -> object:
        # Only a value sent as null gets here as None (defaults are not validated).
        if value is None:
            raise ValueError("leave the field out to keep it; null is not a value")
        return value

    @field_validator("tags")
    @classmethod
    def clean(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else _clean_tags(value)


class PartIn(BaseModel):
    part_number: int = Field(ge=1, le=10_000)
    etag: str = Field(min_length=1, max_length=200)


class CompleteUploadRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    parts: list[PartIn] = Field(min_length=1, max_length=10_000)


class VideoOut(BaseModel):
    id: str
    title: str
    description: str
    tags: list[str]
    visibility: Visibility
    status: Status
    progress: int
    # true once it can be played: while it still encodes (every rung's first segment is up), and when ready
    playable: bool = False
    duration_s: float | None
    width: int | None
    height: int | None
    renditions: list[dict[str, object]]
    error: str | None
    version: int
    created_at: str
    updated_at: str


class VideoEnvelope(BaseModel):
    """A video as the asynchronous actions answer it (202): delete, retry and cancel."""

    video: VideoOut


class PartUrl(BaseModel):
    part_number: int
    url: str


class UploadInstructions(BaseModel):
    method: Literal["PUT", "multipart"]
    url: str | None = None
    headers: dict[str, str] | None = None
    upload_id: str | None = None
    part_size: int | None = None
    parts: list[PartUrl] | None = None
    expires_at: str


class CreatedVideo(BaseModel):
    video: VideoOut
    upload: UploadInstructions


class ReceivedPart(BaseModel):
    part_number: int
    etag: str
    size: int


class UploadProgress(BaseModel):
    """Where a resumable upload stands: what arrived, and fresh URLs for what is missing."""

    method: Literal["PUT", "multipart"]
    received: list[ReceivedPart]
    missing: list[PartUrl]
    part_size: int | None
    upload_id: str | None
    expires_at: str


class VideoList(BaseModel):
    items: list[VideoOut]
    next_cursor: str | None


class Playback(BaseModel):
    hls_url: str
    poster_url: str
    storyboard_url: str
    expires_at: str | None


# --- the stored record ------------------------------------------------------------------------------


class UploadRecord(BaseModel):
    key: str
    filename: str
    content_type: str
    size_bytes: int
    method: Literal["PUT", "multipart"]
    upload_id: str | None = None
    part_size: int | None = None
    part_count: int | None = None
    expires_at: int  # epoch seconds: after this the sweeper fails the video


class VideoRecord(BaseModel):
    id: str
    owner_id: str
    title: str
    description: str = ""
    tags: list[str] = Field(default_factory=list)
    visibility: Visibility = Visibility.PRIVATE
    status: Status = Status.AWAITING_UPLOAD
    progress: int = 0
    duration_s: float | None = None
    width: int | None = None
    height: int | None = None
    renditions: list[dict[str, object]] = Field(default_factory=list)
    error: str | None = None
    media_prefix: str | None = None  # where the HLS output lives in the media bucket, once ready
    playable: bool = False  # playable while it encodes (functions/transcode/live.py), then once ready
    playable_prefix: str | None = None  # where the encode in progress publishes (until ready)
    source_etag: str | None = None
    attempt: str | None = None  # the publish run that owns the video (functions/videos/publishing.py)
    # What the video counts against its owner's storage quota (upload.size_bytes): `reserved` while its
    # upload is awaited, `stored` once the file is in, None once released (or for a video from before
    # quotas). Changed only in the same transaction as the owner's usage (functions/videos/dal.py), so a
    # retried step that finds it already released releases nothing twice.
    charged: Literal["reserved", "stored"] | None = None
    upload: UploadRecord
    version: int = 1
    created_at: str
    updated_at: str

    def public(self) -> VideoOut:
        out = VideoOut(**self.model_dump(include=set(VideoOut.model_fields)))
        out.playable = self.plays_from() is not None
        return out

    def plays_from(self) -> str | None:
        """The prefix a player streams from: the output once ready, or the one an encode in progress
        publishes to once it is playable (functions/transcode/live.py); None if it cannot play yet."""
        if self.status is Status.READY:
            return self.media_prefix
        if self.status is Status.PROCESSING and self.playable:
            return self.playable_prefix
        return None

    def changed(self, **changes: object) -> VideoRecord:
        """The next version of this record: every write is conditional on the version it replaces."""
        return self.model_copy(update={**changes, "version": self.version + 1, "updated_at": now_iso()})
