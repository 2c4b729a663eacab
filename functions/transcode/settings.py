"""The transcode function's settings: its grants (infra/topology/transcode.py) and the encode's tunables."""

from __future__ import annotations

import tempfile

from pydantic import Field

from functions.shared.config import EnvironmentModel


class TranscodeSettings(EnvironmentModel):
    videos_table: str = Field(alias="VIDEOS_TABLE_NAME")  # progress, and the cancel check
    uploads_bucket: str = Field(alias="UPLOADS_BUCKET_NAME")
    media_bucket: str = Field(alias="MEDIA_BUCKET_NAME")
    event_bus: str = Field(alias="EVENTS_EVENT_BUS_NAME")
    work_dir: str = Field(default=tempfile.gettempdir(), alias="TRANSCODE_WORK_DIR")
    # Sources longer than this are encoded in chunks of CHUNK_S seconds, in parallel (docs/transcode.md).
    chunk_threshold_s: float = Field(default=600, gt=0, alias="CHUNK_THRESHOLD_S")
    chunk_s: float = Field(default=120, gt=0, alias="CHUNK_S")
    # set by Lambda itself: the GB-seconds figure of the cost metrics (functions/transcode/pipeline.py)
    memory_mb: int = Field(default=10240, gt=0, alias="AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
