"""The one place the videos domain builds its adapters and use cases from settings, once per sandbox.

Each function's settings model (functions/videos/settings.py) is validated whole on its first use here,
so a function missing a grant fails its first invocation with the variable named. Entry modules call one
of the builders below and nothing else; tests build the use cases on fakes instead (tests/fakes/videos.py).
"""

from __future__ import annotations

import functools
from typing import TypeVar

from functions.shared import cdn
from functions.shared.config import EnvironmentModel
from functions.shared.events import EventPublisher
from functions.shared.plans import STORAGE_QUOTAS
from functions.videos.dal import VideoRepository
from functions.videos.idempotency import IdempotentCreates
from functions.videos.logic import Deletion, Ingest, MediaMoves, Publishing, Sweeper, VideoService
from functions.videos.settings import (
    ApiSettings,
    DeleteStepsSettings,
    IngestSettings,
    MediaSettings,
    PublishStepsSettings,
    SweeperSettings,
)
from functions.videos.signing import MediaSigner
from functions.videos.storage import MediaStore, UploadStore
from functions.videos.uploads import UploadLimits
from functions.videos.workflow import StepFunctionsStarter

Model = TypeVar("Model", bound=EnvironmentModel)


@functools.cache
def _settings(model: type[EnvironmentModel]) -> EnvironmentModel:
    return model.from_environment()


def settings(model: type[Model]) -> Model:
    """`model` read from this sandbox's environment, validated whole, once (cached by model)."""
    loaded = _settings(model)
    assert isinstance(loaded, model)  # functools.cache erases the type; it is the model asked for
    return loaded


@functools.cache
def service() -> VideoService:
    s = settings(ApiSettings)
    return VideoService(
        VideoRepository(s.table),
        UploadStore(s.uploads_bucket),
        EventPublisher(s.event_bus),
        UploadLimits(s.max_upload_bytes, s.single_put_max_bytes, s.min_part_bytes),
        delete_workflow=StepFunctionsStarter(s.delete_machine, "deleting the video"),
        signer=MediaSigner(s.media_keys_secret, s.cdn_url),
        storage_quotas={**STORAGE_QUOTAS, **(s.storage_quotas or {})},
    )


@functools.cache
def idempotent_creates() -> IdempotentCreates:
    """`Idempotency-Key`s of creates, kept in the videos table (functions/videos/idempotency.py)."""
    return IdempotentCreates(settings(ApiSettings).table)


@functools.cache
def ingest() -> Ingest:
    s = settings(IngestSettings)
    return Ingest(VideoRepository(s.table), UploadStore(s.uploads_bucket), EventPublisher(s.event_bus))


@functools.cache
def deletion() -> Deletion:
    s = settings(DeleteStepsSettings)
    return Deletion(
        VideoRepository(s.table),
        UploadStore(s.uploads_bucket),
        MediaStore(s.media_bucket),
        EventPublisher(s.event_bus),
        cdn.media_cache(s.cdn_distribution_id),
    )


@functools.cache
def sweeper() -> Sweeper:
    s = settings(SweeperSettings)
    return Sweeper(VideoRepository(s.table), UploadStore(s.uploads_bucket))


@functools.cache
def media_moves() -> MediaMoves:
    s = settings(MediaSettings)
    return MediaMoves(
        VideoRepository(s.table), MediaStore(s.media_bucket), cdn.media_cache(s.cdn_distribution_id)
    )


@functools.cache
def publishing() -> Publishing:
    s = settings(PublishStepsSettings)
    return Publishing(
        VideoRepository(s.table),
        MediaStore(s.media_bucket),
        EventPublisher(s.event_bus),
        cdn.media_cache(s.cdn_distribution_id),
    )


def reset() -> None:
    """Forget everything built (tests that change the environment call this)."""
    for cached in (
        _settings,
        service,
        idempotent_creates,
        ingest,
        deletion,
        sweeper,
        media_moves,
        publishing,
    ):
        cached.cache_clear()
