"""One environment model per search function; required fields are exactly that function's grants."""

from __future__ import annotations

from pydantic import Field

from functions.shared.config import EnvironmentModel


class SearchApiSettings(EnvironmentModel):
    index_bucket: str = Field(alias="SEARCH_INDEX_BUCKET_NAME")
    jobs_table: str = Field(alias="SEARCH_TABLE_NAME")
    jobs_queue: str = Field(alias="SEARCH_JOBS_QUEUE_URL")
    event_bus: str = Field(alias="EVENTS_EVENT_BUS_NAME")
    # How stale a warm container's index may be: it looks at the version pointer at most this often.
    index_check_every_s: float = Field(default=1.0, ge=0, alias="INDEX_CHECK_EVERY_S")


class IndexerSettings(EnvironmentModel):
    index_bucket: str = Field(alias="SEARCH_INDEX_BUCKET_NAME")
    videos_table: str = Field(alias="VIDEOS_TABLE_NAME")  # read whole by a rebuild only


class JobWorkerSettings(EnvironmentModel):
    index_bucket: str = Field(alias="SEARCH_INDEX_BUCKET_NAME")
    jobs_table: str = Field(alias="SEARCH_TABLE_NAME")
    event_bus: str = Field(alias="EVENTS_EVENT_BUS_NAME")
    index_check_every_s: float = Field(default=1.0, ge=0, alias="INDEX_CHECK_EVERY_S")
