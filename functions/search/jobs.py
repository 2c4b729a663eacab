"""Async search jobs, on ports: submit (queued, then the worker runs it), poll, list, cancel, retry.

Every status change is a conditional write from the statuses it may come from, so a cancel racing the
worker ends in exactly one of `cancelled` or `completed`, and each change is published on the bus as
`search.job.<status>` (the dashboard's live view). A job is its owner's: anyone else gets a 404.
"""

from __future__ import annotations

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
from functions.shared.errors import ConflictError, NotFoundError, ValidationFailedError
from functions.shared.events import Events

RESULTS_TTL_S = 24 * 3600
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
        clock: Callable[[], float] = time.time,
        ttl_s: int = RESULTS_TTL_S,
    ) -> None:
        self.store = store
        self.queue = queue
        self.events = events
        self.clock = clock
        self.ttl_s = ttl_s

    def _publish(self, job: JobRecord) -> None:
        event = STATUS_EVENTS[job.status]
        self.events.publish(
            event(job_id=job.job_id, owner_id=job.owner_id, status=job.status.value, attempts=job.attempts)
        )

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
        self.queue.send(job.job_id)
        self._publish(job)
        return job

    def get(self, owner_id: str, job_id: str) -> JobRecord:
        job = self.store.get(job_id)
        if job is None or job.owner_id != owner_id:
            raise NotFoundError("No such search job.")
        return job

    def list(self, owner_id: str, limit: int, cursor: str | None) -> tuple[list[JobRecord], str | None]:
        return self.store.list_owned(owner_id, limit, cursor)

    def _move(self, job: JobRecord, expected: frozenset[JobStatus], **changes: object) -> JobRecord | None:
        moved = self._changed(job, **changes)
        if not self.store.replace(moved, expected):
            return None
        self._publish(moved)
        return moved

    def cancel(self, owner_id: str, job_id: str) -> JobRecord:
        job = self.get(owner_id, job_id)
        if job.status not in CANCELLABLE:
            raise ConflictError(
                f"The job is {job.status.value}: only a queued or running job can be cancelled."
            )
        moved = self._move(job, CANCELLABLE, status=JobStatus.CANCELLED)
        if moved is None:  # it finished meanwhile
            raise ConflictError("The job finished before it could be cancelled.")
        return moved

    def retry(self, owner_id: str, job_id: str) -> JobRecord:
        job = self.get(owner_id, job_id)
        if job.status not in RETRYABLE:
            raise ConflictError(
                f"The job is {job.status.value}: only a failed or cancelled job can be retried."
            )
        moved = self._move(
            job, RETRYABLE, status=JobStatus.QUEUED, results=[], error=None, attempts=job.attempts + 1
        )
        if moved is None:
            raise ConflictError("The job changed meanwhile; read it again.")
        self.queue.send(moved.job_id)
        return moved

    def run(self, job_id: str, search: SearchService) -> JobStatus | None:
        """The worker's step: run a queued job; None when there is nothing to do (gone, cancelled, or
        already done by an earlier delivery of the same message)."""
        job = self.store.get(job_id)
        if job is None or job.status is not JobStatus.QUEUED:
            return None
        running = self._move(job, frozenset({JobStatus.QUEUED}), status=JobStatus.RUNNING)
        if running is None:
            return None
        try:
            results = search.search(job.owner_id, job.query, job.algorithm, job.limit).results
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
