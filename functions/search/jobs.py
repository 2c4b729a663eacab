"""Async search jobs, on ports: submit (queued, then the worker runs it), poll, list, cancel, retry.

Every status change is a conditional write from the statuses it may come from, so a cancel racing the
worker ends in exactly one of `cancelled` or `completed`, and each change is published on the bus as
`search.job.<status>` (the dashboard's live view). A job is its owner's: anyone else gets a 404.

The stored job is the truth; its events are notifications, published after the write and never undoing
it (a bus that does not answer is logged, not raised). Stored results are kept for a day, so they are
read through the index's visibility filter again: a video made private or deleted since drops out.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable

from functions.search.logic import SearchService, check_query
from functions.search.models import CreateJobRequest, JobRecord, JobStatus
from functions.search.ports import JobQueue, JobStore
from functions.shared.clock import now_iso
from functions.shared.domain_events import (
    SearchJobCancelled,
    SearchJobCompleted,
    SearchJobEvent,
    SearchJobFailed,
    SearchJobQueued,
    SearchJobRunning,
)
from functions.shared.errors import (
    ConflictError,
    DependencyUnavailableError,
    NotFoundError,
    ValidationFailedError,
)
from functions.shared.events import Events
from functions.shared.observability import count, logger

RESULTS_TTL_S = 24 * 3600
JOB_ID = re.compile(r"[0-9a-f]{32}")  # uuid4().hex
NOT_QUEUED = "The job could not be queued (the queue did not answer); retry it."
CANCELLABLE = frozenset({JobStatus.QUEUED, JobStatus.RUNNING})
RETRYABLE = frozenset({JobStatus.FAILED, JobStatus.CANCELLED})
STATUS_EVENTS: dict[JobStatus, type[SearchJobEvent]] = {
    JobStatus.QUEUED: SearchJobQueued,
    JobStatus.RUNNING: SearchJobRunning,
    JobStatus.COMPLETED: SearchJobCompleted,
    JobStatus.FAILED: SearchJobFailed,
    JobStatus.CANCELLED: SearchJobCancelled,
}


class JobService:
    def __init__(
        self,
        store: JobStore,
        queue: JobQueue,
        events: Events,
        search: SearchService,
        clock: Callable[[], float] = time.time,
        ttl_s: int = RESULTS_TTL_S,
    ) -> None:
        self.store = store
        self.queue = queue
        self.events = events
        self.search = search
        self.clock = clock
        self.ttl_s = ttl_s

    def _publish(self, job: JobRecord) -> None:
        event = STATUS_EVENTS[job.status]
        try:
            self.events.publish(
                event(
                    job_id=job.job_id, owner_id=job.owner_id, status=job.status.value, attempts=job.attempts
                )
            )
        except DependencyUnavailableError as exc:  # the write stands; a poll still sees the status
            logger.warning("search job event not published", extra={"job_id": job.job_id, "error": str(exc)})
            count("SearchJobEventsLost", 1)

    def _changed(self, job: JobRecord, **changes: object) -> JobRecord:
        return job.model_copy(
            update={**changes, "updated_at": now_iso(), "expires_at": int(self.clock()) + self.ttl_s}
        )

    def submit(self, owner_id: str, request: CreateJobRequest) -> JobRecord:
        check_query(request.query)
        stamp = now_iso()
        job = JobRecord(
            job_id=uuid.uuid4().hex,
            owner_id=owner_id,
            query=request.query,
            algorithm=request.algorithm,
            limit=request.limit,
            created_at=stamp,
            updated_at=stamp,
            expires_at=int(self.clock()) + self.ttl_s,
        )
        self.store.create(job)
        self._enqueue(job)
        self._publish(job)
        return job

    def _enqueue(self, job: JobRecord) -> None:
        """Send the queued job to the worker; if the queue does not answer, the job is marked failed (so
        it can be retried) instead of staying queued with no message, and the 503 goes to the caller."""
        try:
            self.queue.send(job.job_id)
        except DependencyUnavailableError:
            self._move(job, frozenset({JobStatus.QUEUED}), status=JobStatus.FAILED, error=NOT_QUEUED)
            raise

    def _stored(self, owner_id: str, job_id: str) -> JobRecord:
        # Not an id this service makes: not found, before a store that refuses odd keys is asked.
        job = self.store.get(job_id) if JOB_ID.fullmatch(job_id) else None
        if job is None or job.owner_id != owner_id or job.expires_at <= self.clock():
            raise NotFoundError("No such search job.")  # TTL deletion lags: an expired job is gone already
        return job

    def _as_seen_now(self, jobs: list[JobRecord]) -> list[JobRecord]:
        """The jobs (one owner's) with only the results their owner may still see."""
        found = [hit.video_id for job in jobs for hit in job.results]
        if not found:
            return jobs
        visible = self.search.visible_to(jobs[0].owner_id, found)
        return [
            job.model_copy(update={"results": [h for h in job.results if h.video_id in visible]})
            for job in jobs
        ]

    def get(self, owner_id: str, job_id: str) -> JobRecord:
        return self._as_seen_now([self._stored(owner_id, job_id)])[0]

    def list(self, owner_id: str, limit: int, cursor: str | None) -> tuple[list[JobRecord], str | None]:
        jobs, next_cursor = self.store.list_owned(owner_id, limit, cursor)
        now = self.clock()
        return self._as_seen_now([j for j in jobs if j.expires_at > now]), next_cursor

    def _move(self, job: JobRecord, expected: frozenset[JobStatus], **changes: object) -> JobRecord | None:
        moved = self._changed(job, **changes)
        if not self.store.replace(moved, expected, attempt=job.attempts):
            return None
        self._publish(moved)
        return moved

    def cancel(self, owner_id: str, job_id: str) -> JobRecord:
        job = self._stored(owner_id, job_id)
        if job.status not in CANCELLABLE:
            raise ConflictError(
                f"The job is {job.status.value}: only a queued or running job can be cancelled."
            )
        moved = self._move(job, CANCELLABLE, status=JobStatus.CANCELLED)
        if moved is None:  # it finished meanwhile
            raise ConflictError("The job finished before it could be cancelled.")
        return moved

    def retry(self, owner_id: str, job_id: str) -> JobRecord:
        job = self._stored(owner_id, job_id)
        if job.status not in RETRYABLE:
            raise ConflictError(
                f"The job is {job.status.value}: only a failed or cancelled job can be retried."
            )
        moved = self._move(
            job, RETRYABLE, status=JobStatus.QUEUED, results=[], error=None, attempts=job.attempts + 1
        )
        if moved is None:
            raise ConflictError("The job changed meanwhile; read it again.")
        self._enqueue(moved)
        return moved

    def run(self, job_id: str) -> JobStatus | None:
        """The worker's step: run a queued job; None when there is nothing to do (gone, cancelled, or
        already done by an earlier delivery of the same message)."""
        job = self.store.get(job_id)
        if job is None or job.status is not JobStatus.QUEUED:
            return None
        running = self._move(job, frozenset({JobStatus.QUEUED}), status=JobStatus.RUNNING)
        if running is None:
            return None
        try:
            results = self.search.search(job.owner_id, job.query, job.algorithm, job.limit).results
        except ValidationFailedError as exc:
            done = self._move(
                running, frozenset({JobStatus.RUNNING}), status=JobStatus.FAILED, error=exc.message
            )
            return None if done is None else done.status
        except Exception:
            # A dependency failed: back to queued, and the message comes back for another try.
            self._move(running, frozenset({JobStatus.RUNNING}), status=JobStatus.QUEUED)
            raise
        done = self._move(
            running, frozenset({JobStatus.RUNNING}), status=JobStatus.COMPLETED, results=results
        )
        return None if done is None else done.status  # None: cancelled while it ran; the results are dropped
