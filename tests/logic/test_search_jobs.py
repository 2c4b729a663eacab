"""Async search jobs on fakes: submit -> worker -> results; poll, list, cancel, retry; events; ownership."""

from __future__ import annotations

from pathlib import Path

import pytest

from functions.search.documents import change_for
from functions.search.jobs import NOT_QUEUED, JobService
from functions.search.logic import Indexer, SearchService
from functions.search.models import Algorithm, CreateJobRequest, JobStatus
from functions.search.replica import ReadReplica, WriteReplica
from functions.shared.errors import (
    ConflictError,
    DependencyUnavailableError,
    NotFoundError,
    ValidationFailedError,
)
from functions.videos.models import Visibility
from tests.fakes.search import ListQueue, MemoryIndexFiles, MemoryJobStore
from tests.fakes.shared import RecordingEvents
from tests.search_helpers import video


class World:
    def __init__(self, tmp_path: Path) -> None:
        files = MemoryIndexFiles()
        self.indexer = Indexer(WriteReplica(files, tmp_path / "w"))
        self.indexer.apply([change_for("v1", video("Volcano eruption", owner="alice", video_id="v1"))])
        self.search = SearchService(ReadReplica(files, tmp_path / "r", check_every_s=0))
        self.store, self.queue, self.events = MemoryJobStore(), ListQueue(), RecordingEvents()
        self.clock = 1_000.0
        self.jobs = JobService(
            self.store, self.queue, self.events, self.search, clock=lambda: self.clock, ttl_s=60
        )

    def worker_with(self, search: object) -> JobService:
        """The same jobs, run by a worker whose search is `search`."""
        return JobService(self.store, self.queue, self.events, search, clock=lambda: self.clock)  # type: ignore[arg-type]

    def statuses(self) -> list[str]:
        return [kind for kind, _ in self.events.published]


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path)


def submit(world: World, query: str = "volcano", owner: str = "alice") -> str:
    return world.jobs.submit(owner, CreateJobRequest(query=query, algorithm=Algorithm.FUZZY)).job_id


def test_a_job_is_queued_run_by_the_worker_and_keeps_its_results_with_a_ttl(world: World) -> None:
    job_id = submit(world, "volcanoe")
    assert world.queue.sent == [job_id]
    assert world.jobs.get("alice", job_id).status is JobStatus.QUEUED
    assert world.jobs.run(job_id) is JobStatus.COMPLETED
    job = world.jobs.get("alice", job_id)
    assert [r.video_id for r in job.results] == ["v1"]
    assert job.expires_at == 1_060
    assert world.statuses() == ["search.job.queued", "search.job.running", "search.job.completed"]
    assert all(detail["owner_id"] == "alice" for _, detail in world.events.published)


def test_another_users_job_is_not_found(world: World) -> None:
    job_id = submit(world)
    for act in (world.jobs.get, world.jobs.cancel, world.jobs.retry):
        with pytest.raises(NotFoundError):
            act("mallory", job_id)
    with pytest.raises(NotFoundError):
        world.jobs.get("alice", "no-such-job")


def test_a_cancelled_job_is_not_run_and_can_be_retried(world: World) -> None:
    job_id = submit(world)
    assert world.jobs.cancel("alice", job_id).status is JobStatus.CANCELLED
    assert world.jobs.run(job_id) is None  # the message arrives after the cancel
    with pytest.raises(ConflictError):
        world.jobs.cancel("alice", job_id)
    retried = world.jobs.retry("alice", job_id)
    assert (retried.status, retried.attempts) == (JobStatus.QUEUED, 2)
    assert world.queue.sent == [job_id, job_id]
    assert world.jobs.run(job_id) is JobStatus.COMPLETED
    with pytest.raises(ConflictError):
        world.jobs.retry("alice", job_id)  # completed: nothing to retry
    with pytest.raises(ConflictError):
        world.jobs.cancel("alice", job_id)


def test_a_cancel_while_running_drops_the_results(world: World) -> None:
    job_id = submit(world)

    class CancelledMidway:
        def search(self, *args: object) -> object:
            world.jobs.cancel("alice", job_id)
            return world.search.search(*args)  # type: ignore[arg-type]

    assert world.worker_with(CancelledMidway()).run(job_id) is None
    job = world.jobs.get("alice", job_id)
    assert (job.status, job.results) == (JobStatus.CANCELLED, [])


def test_a_job_whose_dependency_fails_goes_back_to_queued_for_the_retried_message(world: World) -> None:
    job_id = submit(world)

    class Down:
        def search(self, *args: object) -> object:
            raise RuntimeError("index store down")

    with pytest.raises(RuntimeError):
        world.worker_with(Down()).run(job_id)
    assert world.jobs.get("alice", job_id).status is JobStatus.QUEUED
    assert world.jobs.run(job_id) is JobStatus.COMPLETED
    assert world.jobs.run(job_id) is None  # a duplicate delivery does nothing


def test_stored_results_drop_a_video_that_turned_private_since_the_job_ran(world: World) -> None:
    job_id = submit(world, owner="bob")  # alice's public video matches
    assert world.jobs.run(job_id) is JobStatus.COMPLETED
    assert [r.video_id for r in world.jobs.get("bob", job_id).results] == ["v1"]
    world.indexer.apply(
        [
            change_for(
                "v1", video("Volcano eruption", owner="alice", video_id="v1", visibility=Visibility.PRIVATE)
            )
        ]
    )
    assert world.jobs.get("bob", job_id).results == []
    [listed], _ = world.jobs.list("bob", 10, None)
    assert listed.results == []


def test_an_expired_job_is_gone_even_before_the_ttl_deletes_it(world: World) -> None:
    job_id = submit(world)
    world.clock += 61  # the TTL is 60 s in this world; DynamoDB deletes expired items only eventually
    with pytest.raises(NotFoundError):
        world.jobs.get("alice", job_id)
    assert world.jobs.list("alice", 10, None)[0] == []


def test_a_job_the_queue_would_not_take_is_failed_and_can_be_retried(world: World) -> None:
    class QueueDown:
        def send(self, job_id: str) -> None:
            raise DependencyUnavailableError("Could not queue the search job; try again.")

    world.jobs.queue = QueueDown()
    with pytest.raises(DependencyUnavailableError):
        submit(world)
    [job], _ = world.jobs.list("alice", 10, None)
    assert (job.status, job.error) == (JobStatus.FAILED, NOT_QUEUED)  # not queued forever with no message
    world.jobs.queue = world.queue
    assert world.jobs.retry("alice", job.job_id).status is JobStatus.QUEUED
    assert world.queue.sent == [job.job_id]


def test_a_bus_that_does_not_answer_loses_the_notification_not_the_job(world: World) -> None:
    class BusDown:
        def publish(self, event: object) -> None:
            raise DependencyUnavailableError("The event bus did not answer.")

    world.jobs.events = BusDown()
    job_id = submit(world)
    assert world.queue.sent == [job_id]
    assert world.jobs.run(job_id) is JobStatus.COMPLETED


@pytest.mark.parametrize("query", ["\x00bad", "!!!", "😀"])
def test_a_query_no_search_can_answer_is_refused_at_submit(world: World, query: str) -> None:
    with pytest.raises(ValidationFailedError):
        submit(world, query)
    assert world.queue.sent == []


def test_listing_is_the_callers_own_jobs_newest_first_in_cursor_pages(world: World) -> None:
    mine = []
    for n in range(5):
        world.clock += 1
        mine.append(submit(world, f"volcano {n}"))
    submit(world, owner="bob")
    page, cursor = world.jobs.list("alice", 2, None)
    seen = [j.job_id for j in page]
    while cursor:
        page, cursor = world.jobs.list("alice", 2, cursor)
        seen += [j.job_id for j in page]
    assert sorted(seen) == sorted(mine)
    assert len(seen) == 5
