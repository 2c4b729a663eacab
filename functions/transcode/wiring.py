"""The one place the transcode function's adapters and pipeline are built from its settings, once per
sandbox (the settings are validated on the first invocation, not at import)."""

from __future__ import annotations

import functools

from functions.shared.events import EventPublisher
from functions.transcode.engine import FFmpegEngine
from functions.transcode.pipeline import TranscodePipeline, Tunables
from functions.transcode.records import RepositoryRunRecords
from functions.transcode.settings import TranscodeSettings
from functions.transcode.storage import S3MediaStore
from functions.videos.dal import VideoRepository


@functools.cache
def settings() -> TranscodeSettings:
    return TranscodeSettings.from_environment()


@functools.cache
def pipeline() -> TranscodePipeline:
    s = settings()
    return TranscodePipeline(
        media=S3MediaStore(s.uploads_bucket, s.media_bucket),
        records=RepositoryRunRecords(VideoRepository(s.videos_table)),
        events=EventPublisher(s.event_bus),
        engine=FFmpegEngine(),
        tunables=Tunables(s.work_dir, s.chunk_threshold_s, s.chunk_s, s.memory_mb),
    )


def reset() -> None:
    """Forget the settings and what was built from them (tests that change the environment)."""
    pipeline.cache_clear()
    settings.cache_clear()
