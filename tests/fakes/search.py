"""Fakes of the search domain's ports (functions/search/ports.py)."""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

from functions.search.models import JobRecord, JobStatus, Manifest
from functions.shared.errors import DependencyUnavailableError, MalformedRequestError
from functions.videos.models import VideoRecord


class MemoryIndexFiles:
    """`IndexFiles` in memory: the pointer and the files as bytes; counts what was transferred."""

    def __init__(self) -> None:
        self.pointer: Manifest | None = None
        self.blobs: dict[str, bytes] = {}
        self.written_at: dict[str, float] = {}
        self.downloads: list[str] = []
        self.uploads: list[str] = []
        self.pointer_reads = 0

    def manifest(self) -> Manifest | None:
        self.pointer_reads += 1
        return self.pointer

    def download(self, name: str, target: Path) -> None:
        if name not in self.blobs:
            raise DependencyUnavailableError(f"no index file {name}")  # as the S3 adapter says it
        self.downloads.append(name)
        target.write_bytes(self.blobs[name])

    def upload(self, name: str, source: Path) -> None:
        self.uploads.append(name)
        self.blobs[name] = source.read_bytes()
        self.written_at[name] = time.time()

    def stored(self) -> list[tuple[str, float]]:
        return [(name, self.written_at[name]) for name in self.blobs]

    def delete(self, names: Sequence[str]) -> None:
        for name in names:
            self.blobs.pop(name, None)
            self.written_at.pop(name, None)

    def publish(self, manifest: Manifest) -> None:
        missing = [name for name in manifest.files if name not in self.blobs]
        if missing:
            raise AssertionError(f"published a version whose files are not uploaded: {missing}")
        self.pointer = manifest


class ListCatalogue:
    """`VideoCatalogue` over a list of records."""

    def __init__(self, videos: Iterable[VideoRecord]) -> None:
        self.videos = list(videos)

    def all_videos(self) -> list[VideoRecord]:
        return list(self.videos)


class MemoryJobStore:
    """`JobStore` in memory, with the adapter's cursor rules (a foreign cursor is a MalformedRequestError)."""

    def __init__(self) -> None:
        self.jobs: dict[str, JobRecord] = {}

    def create(self, job: JobRecord) -> None:
        if job.job_id in self.jobs:
            raise AssertionError(f"job {job.job_id} exists")
        self.jobs[job.job_id] = job

    def get(self, job_id: str) -> JobRecord | None:
        return self.jobs.get(job_id)

    def replace(self, job: JobRecord, expected: frozenset[JobStatus], attempt: int) -> bool:
        stored = self.jobs.get(job.job_id)
        if stored is None or stored.status not in expected or stored.attempts != attempt:
            return False
        self.jobs[job.job_id] = job
        return True

    def list_owned(self, owner_id: str, limit: int, cursor: str | None) -> tuple[list[JobRecord], str | None]:
        owned = sorted(
            (j for j in self.jobs.values() if j.owner_id == owner_id),
            key=lambda j: (j.created_at, j.job_id),
            reverse=True,
        )
        start = 0
        if cursor:
            try:
                value = json.loads(base64.urlsafe_b64decode(cursor.encode()))
            except (binascii.Error, ValueError, RecursionError):
                raise MalformedRequestError("foreign cursor") from None
            ids = [j.job_id for j in owned]
            if not isinstance(value, dict) or value.get("owner") != owner_id or value.get("after") not in ids:
                raise MalformedRequestError("foreign cursor")
            start = ids.index(value["after"]) + 1
        page = owned[start : start + limit]
        more = start + limit < len(owned)
        token = {"owner": owner_id, "after": page[-1].job_id} if more else None
        token = base64.urlsafe_b64encode(json.dumps(token).encode()).decode() if token else None
        return page, token


class ListQueue:
    """`JobQueue` that keeps what was sent."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    def send(self, job_id: str) -> None:
        self.sent.append(job_id)
