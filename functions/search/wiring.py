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
from functions.search.opensearch import FixedIndex, OpenSearchIndex, connect
from functions.search.ports import IndexSource, IndexUpdates
from functions.search.replica import ReadReplica, WriteReplica
from functions.search.settings import EngineChoice, IndexerSettings, JobWorkerSettings, SearchApiSettings
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


def _opensearch(s: EngineChoice) -> OpenSearchIndex:
    # A Serverless collection refreshes on its own: a write's `refresh` is not asked for.
    return OpenSearchIndex(connect(s.opensearch_endpoint, s.region), s.opensearch_index, refresh=False)


def _index_source(s: SearchApiSettings | JobWorkerSettings) -> IndexSource:
    if s.engine == "opensearch":
        return FixedIndex(_opensearch(s))
    return ReadReplica(S3IndexFiles(s.index_bucket), _scratch(), s.index_check_every_s)


def _index_updates(s: IndexerSettings) -> IndexUpdates:
    if s.engine == "opensearch":
        index = _opensearch(s)
        index.ensure_index()
        return index
    return WriteReplica(S3IndexFiles(s.index_bucket), _scratch())


@functools.cache
def search_service() -> SearchService:
    return SearchService(_index_source(api_settings()))


class TableCatalogue:
    """`VideoCatalogue` over the videos table, through the videos domain's own data access."""

    def __init__(self, table: str) -> None:
        self.table = table

    def all_videos(self) -> Iterator[VideoRecord]:
        return scan_videos(self.table)


@functools.cache
def indexer() -> Indexer:
    return Indexer(_index_updates(indexer_settings()))


@functools.cache
def catalogue() -> TableCatalogue:
    return TableCatalogue(indexer_settings().videos_table)


@functools.cache
def job_service() -> JobService:
    s = api_settings()
    return JobService(
        DynamoJobStore(s.jobs_table), SqsJobQueue(s.jobs_queue), EventPublisher(s.event_bus), search_service()
    )


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
    return JobService(DynamoJobStore(s.jobs_table), _NoQueue(), EventPublisher(s.event_bus), worker_search())


@functools.cache
def worker_search() -> SearchService:
    return SearchService(_index_source(worker_settings()))
