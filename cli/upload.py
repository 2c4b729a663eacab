"""Uploading a file as the API asks (docs/videos.md): one presigned PUT, or a multipart upload whose
parts go up in parallel. Resumable: what a rerun needs is kept in `uploads.json` (cli/config.py) until
the upload is complete, and the API says which parts it already has (`GET /videos/{id}/upload`), so a
rerun on the same file sends only the missing parts."""

from __future__ import annotations

import mimetypes
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import httpx

from cli.api import Api, ApiError, CliError
from cli.config import Uploads, upload_key

CHUNK = 256 * 1024  # progress granularity while a body streams
PART_ATTEMPTS = 3
# The API takes these types (415 otherwise); mimetypes alone calls .ts a Qt translation file.
VIDEO_TYPES = {
    ".mp4": "video/mp4",
    ".m4v": "video/x-m4v",
    ".mov": "video/quicktime",
    ".mkv": "video/x-matroska",
    ".webm": "video/webm",
    ".avi": "video/x-msvideo",
    ".ts": "video/mp2t",
    ".mpg": "video/mpeg",
    ".mpeg": "video/mpeg",
    ".ogv": "video/ogg",
    ".3gp": "video/3gpp",
}
DONE = "done"


class Reporter(Protocol):
    def start(self, total: int, done: int) -> None: ...
    def sent(self, count: int) -> None: ...
    def note(self, message: str) -> None: ...


class Interrupted(CliError):  # noqa: N818
    exit_code = 130


class ProcessingFailed(CliError):  # noqa: N818
    exit_code = 4


@dataclass(frozen=True)
class Source:
    path: Path
    size: int
    mtime_ns: int
    content_type: str

    @classmethod
    def of(cls, path: Path, content_type: str | None = None) -> Source:
        stat = path.stat()
        guessed = VIDEO_TYPES.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0]
        return cls(
            path, stat.st_size, stat.st_mtime_ns, content_type or guessed or "application/octet-stream"
        )

    def chunks(
        self, offset: int, length: int, stop: threading.Event, sent: Callable[[int], None]
    ) -> Iterator[bytes]:
        with self.path.open("rb") as f:
            f.seek(offset)
            left = length
            while left > 0:
                if stop.is_set():
                    raise Interrupted("stopped")
                chunk = f.read(min(CHUNK, left))
                if not chunk:
                    raise CliError(f"{self.path} changed while it was being sent.")
                left -= len(chunk)
                yield chunk
                sent(len(chunk))


@dataclass
class Plan:
    """What is left to send: URLs by part number (one, for a PUT) and the parts the API already has."""

    video_id: str
    method: str
    part_size: int | None
    missing: dict[int, str]
    received: dict[int, str]  # part number -> etag
    headers: dict[str, str]


class Uploader:
    def __init__(self, api: Api, uploads: Uploads, reporter: Reporter, parallel: int = 4) -> None:
        self.api = api
        self.uploads = uploads
        self.reporter = reporter
        self.parallel = max(1, parallel)
        self.stop = threading.Event()

    def upload(self, source: Source, metadata: dict[str, Any]) -> str:
        """Send the file (or what is missing of it); returns the video's id once the API has it all."""
        key = upload_key(self.api.url, source.path, source.size, source.mtime_ns)
        state = self.uploads.get(key)
        if state and state.get("video_id"):
            video_id = str(state["video_id"])
            outcome = self._resume(state, source)
            if outcome is not None:
                if isinstance(outcome, Plan):
                    self._send(source, outcome)
                self.uploads.forget(key)
                return video_id
            state = None  # that upload cannot go on: start again
        if state is None:  # (else the create's answer was lost: ask again with the same key, same body)
            state = {
                "idempotency_key": uuid.uuid4().hex,
                "request": {
                    **metadata,
                    "upload": {
                        "filename": source.path.name,
                        "content_type": source.content_type,
                        "size_bytes": source.size,
                    },
                },
                "video_id": None,
            }
            self.uploads.put(key, state)  # before the create: a lost answer is recovered by the same key
        plan = self._create(key, state)
        self._send(source, plan)
        self.uploads.forget(key)
        return plan.video_id

    def _create(self, key: str, state: dict[str, Any]) -> Plan:
        try:
            created = self.api.call(
                "POST",
                "/videos",
                json=state["request"],
                headers={"Idempotency-Key": state["idempotency_key"]},
            )
        except ApiError as exc:
            if exc.status < 500 and exc.status != 409:  # refused: nothing was created, nothing to resume
                self.uploads.forget(key)
            raise
        state["video_id"] = created["video"]["id"]
        self.uploads.put(key, state)
        upload = created["upload"]
        if upload["method"] == "PUT":
            missing = {1: upload["url"]}
        else:
            missing = {p["part_number"]: p["url"] for p in upload["parts"]}
        return Plan(
            state["video_id"],
            upload["method"],
            upload.get("part_size"),
            missing,
            {},
            upload.get("headers") or {},
        )

    def _resume(self, state: dict[str, Any], source: Source) -> Plan | str | None:
        """What is missing (a Plan), DONE when nothing is, or None when that upload cannot go on (the
        video was deleted, or failed: aborted, expired, or the file did not match)."""
        video_id = state["video_id"]
        try:
            progress = self.api.call("GET", f"/videos/{video_id}/upload")
        except ApiError as exc:
            if exc.status == 409:  # the upload is closed: complete already, or the video failed
                video = self.api.call("GET", f"/videos/{video_id}")
                if video["status"] != "failed":
                    self.reporter.note(f"{source.path.name} was already uploaded as video {video_id}.")
                    return DONE
            elif exc.status != 404:
                raise
            self.reporter.note(
                f"The earlier upload of {source.path.name} cannot go on ({exc.message}) starting again."
            )
            return None
        self.reporter.note(f"Resuming the upload of video {video_id}.")
        headers = {"Content-Type": state["request"]["upload"]["content_type"]}
        return Plan(
            video_id,
            progress["method"],
            progress["part_size"],
            {p["part_number"]: p["url"] for p in progress["missing"]},
            {p["part_number"]: p["etag"] for p in progress["received"]},
            headers,
        )

    def _send(self, source: Source, plan: Plan) -> None:
        if plan.method == "PUT":
            self.reporter.start(source.size, 0)
            self._put(plan.missing[1], source, 0, source.size, plan.headers)
            return
        part_size = plan.part_size or source.size
        ranges = {
            n: ((n - 1) * part_size, min(part_size, source.size - (n - 1) * part_size)) for n in plan.missing
        }
        done = source.size - sum(length for _, length in ranges.values())
        self.reporter.start(source.size, done)
        etags = dict(plan.received)
        pool = ThreadPoolExecutor(
            max_workers=min(self.parallel, max(1, len(ranges))), thread_name_prefix="part"
        )
        futures = {pool.submit(self._put, plan.missing[n], source, *ranges[n], {}): n for n in sorted(ranges)}
        try:
            finished, _ = wait(futures, return_when=FIRST_EXCEPTION)
            for future in finished:
                future.result()  # the first failure, if any, raises here
        except BaseException as exc:
            self.stop.set()
            pool.shutdown(wait=True, cancel_futures=True)
            sent = sum(1 for f in futures if f.done() and not f.cancelled() and f.exception() is None)
            where = f"{len(plan.received) + sent} of {len(plan.received) + len(ranges)} parts sent"
            again = "run the same command again to send the rest"
            if isinstance(exc, CliError) and not isinstance(exc, Interrupted):
                raise CliError(f"{exc.message} ({where}: {again})") from None
            raise Interrupted(f"Interrupted with {where}: {again}.") from None
        etags.update({futures[f]: f.result() for f in futures})
        pool.shutdown()
        self.api.call(
            "POST",
            f"/videos/{plan.video_id}/upload/complete",
            json={"parts": [{"part_number": n, "etag": e} for n, e in sorted(etags.items())]},
        )

    def _put(self, url: str, source: Source, offset: int, length: int, headers: dict[str, str]) -> str:
        """One body (the file, or one part of it) to its presigned URL; returns its ETag. Transient
        failures (connection, 5xx) are retried; the part's progress is given back before a retry."""
        attempt = 1
        while True:
            counter = _Counter(self.reporter)
            try:
                response = self.api.client.put(
                    url,
                    content=source.chunks(offset, length, self.stop, counter.sent),
                    headers={**headers, "Content-Length": str(length)},
                )
            except httpx.TransportError as exc:
                error, retryable = f"{exc or type(exc).__name__}", True
            else:
                if response.status_code < 300:
                    return str(response.headers.get("etag", ""))
                error = f"HTTP {response.status_code}: {response.text[:200]}"
                retryable = response.status_code >= 500
            counter.give_back()
            if not retryable or attempt == PART_ATTEMPTS or self.stop.is_set():
                raise CliError(f"Sending {source.path.name} failed: {error}")
            time.sleep(attempt)
            attempt += 1


class _Counter:
    """Bytes of one attempt, reported as they go and given back if the attempt fails."""

    def __init__(self, reporter: Reporter) -> None:
        self.reporter = reporter
        self.count = 0

    def sent(self, count: int) -> None:
        self.count += count
        self.reporter.sent(count)

    def give_back(self) -> None:
        self.reporter.sent(-self.count)
        self.count = 0


def wait_until_processed(
    api: Api,
    video_id: str,
    on_update: Callable[[dict[str, Any]], None],
    timeout_s: float,
    interval_s: float = 1.0,
) -> dict[str, Any]:
    """Poll the video until it is ready (returned) or failed (ProcessingFailed, with the API's reason)."""
    deadline = time.monotonic() + timeout_s
    while True:
        video: dict[str, Any] = api.call("GET", f"/videos/{video_id}")
        on_update(video)
        if video["status"] == "ready":
            return video
        if video["status"] == "failed":
            raise ProcessingFailed(f"Video {video_id} failed: {video.get('error') or 'no reason given'}")
        if time.monotonic() > deadline:
            raise ProcessingFailed(f"Video {video_id} is still {video['status']} after {timeout_s:.0f} s.")
        time.sleep(interval_s)
