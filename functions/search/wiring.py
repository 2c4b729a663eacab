"""The one place the search domain's adapters and use cases are built from settings, once per container."""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from functions.search.dal import DynamoJobStore, SqsJobQueue
from functions.search.jobs import JobService
from functions.search.logic import Indexer, SearchService
from functions.search.replica import ReadReplica, WriteReplica
from functions.search.settings import IndexerSettings, JobWorkerSettings, SearchApiSettings
from functions.search.storage import S3IndexFiles
from functions.shared.events import EventPublisher
from functions.videos.dal import scan_videos
from functions.videos.models import VideoRecord


@functools.cache
def _scratch() -> Path:
    """This container's own directory for index files (/tmp in Lambda; unique per process locally, where
    several sandboxes share one /tmp)."""
    path = Path(tempfile.mkdtemp(prefix="skyreel-search-"))
    atexit.register(shutil.rmtree, path, True)
    return path


@functools.cache
def api_settings() -> SearchApiSettings:
    return SearchApiSettings.from_environment()


@functools.cache
def indexer_settings() -> IndexerSettings:
    return IndexerSettings.from_environment()


@functools.cache
def search_service() -> SearchService:
    s = api_settings()
    return SearchService(ReadReplica(S3IndexFiles(s.index_bucket), _scratch(), s.index_check_every_s))


class TableCatalogue:
    """`VideoCatalogue` over the videos table, through the videos domain's own data access."""

    def __init__(self, table: str) -> None:
        self.table = table

    def all_videos(self) -> Iterator[VideoRecord]:
        return scan_videos(self.table)


@functools.cache
def indexer() -> Indexer:
    return Indexer(WriteReplica(S3IndexFiles(indexer_settings().index_bucket), _scratch()))


@functools.cache
def catalogue() -> TableCatalogue:
    return TableCatalogue(indexer_settings().videos_table)


@functools.cache
def job_service() -> JobService:
    s = api_settings()
    return JobService(DynamoJobStore(s.jobs_table), SqsJobQueue(s.jobs_queue), EventPublisher(s.event_bus))


@functools.cache
def worker_settings() -> JobWorkerSettings:
    return JobWorkerSettings.from_environment()


class _NoQueue:
    """The worker never queues: it runs what was queued (retry is the API's)."""

    def send(self, job_id: str) -> None:
        raise RuntimeError(f"the worker does not queue jobs ({job_id})")


@functools.cache
def worker_jobs() -> JobService:
    s = worker_settings()
    return JobService(DynamoJobStore(s.jobs_table), _NoQueue(), EventPublisher(s.event_bus))


@functools.cache
def worker_search() -> SearchService:
    s = worker_settings()
    return SearchService(ReadReplica(S3IndexFiles(s.index_bucket), _scratch(), s.index_check_every_s))
