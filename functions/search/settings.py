"""One environment model per search function; required fields are exactly that function's grants."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import Field, model_validator

from functions.shared.config import EnvironmentModel


class EngineChoice(EnvironmentModel):
    """Which index answers: the embedded one on S3 (default), or an OpenSearch Serverless collection
    (`-c skyreel:search=opensearch` at deploy: infra/aws/search_engine.py sets these variables)."""

    engine: Literal["embedded", "opensearch"] = Field(default="embedded", alias="SEARCH_ENGINE")
    opensearch_endpoint: str = Field(default="", alias="OPENSEARCH_ENDPOINT")
    opensearch_index: str = Field(default="videos", alias="OPENSEARCH_INDEX")
    region: str = Field(default="us-east-1", alias="AWS_REGION")

    @model_validator(mode="after")
    def _endpoint_for_opensearch(self) -> Self:
        if self.engine == "opensearch" and not self.opensearch_endpoint.startswith("https://"):
            raise ValueError("SEARCH_ENGINE=opensearch needs OPENSEARCH_ENDPOINT (https://...)")
        return self


class SearchApiSettings(EngineChoice):
    index_bucket: str = Field(alias="SEARCH_INDEX_BUCKET_NAME")
    jobs_table: str = Field(alias="SEARCH_TABLE_NAME")
    jobs_queue: str = Field(alias="SEARCH_JOBS_QUEUE_URL")
    event_bus: str = Field(alias="EVENTS_EVENT_BUS_NAME")
    # How stale a warm container's index may be: it looks at the version pointer at most this often.
    index_check_every_s: float = Field(default=1.0, ge=0, alias="INDEX_CHECK_EVERY_S")


class IndexerSettings(EngineChoice):
    index_bucket: str = Field(alias="SEARCH_INDEX_BUCKET_NAME")
    videos_table: str = Field(alias="VIDEOS_TABLE_NAME")  # read whole by a rebuild only


class JobWorkerSettings(EngineChoice):
    index_bucket: str = Field(alias="SEARCH_INDEX_BUCKET_NAME")
    jobs_table: str = Field(alias="SEARCH_TABLE_NAME")
    event_bus: str = Field(alias="EVENTS_EVENT_BUS_NAME")
    index_check_every_s: float = Field(default=1.0, ge=0, alias="INDEX_CHECK_EVERY_S")
