"""The API stage's access log in the local cloud: what a Kinesis Data Firehose stream does in AWS.

The gateway hands each request's access record to `AccessLogEmitter.emit` after the response is made;
`emit` only appends to a buffer (no I/O on the request path). A background thread delivers the buffer
every `flush_s` seconds (or at `max_records`) as one S3 object, named and laid out as the Firehose
stream in AWS names its objects (`<prefix>dt=YYYY-MM-DD/<stream>-1-YYYY-MM-DD-HH-MM-SS-<uuid>`, records
as newline-delimited JSON), so the bucket's notification, the queue and the aggregator run as in AWS.

Not moto's Firehose: moto 5.2 writes one object per PutRecordBatch under `<prefix>YYYY/MM/DD/HH/`
(it ignores the `!{timestamp:...}` prefix expressions that make the Athena layout), and buffers nothing.

Nothing is lost: a failed delivery keeps the batch and is retried with the same key and body (an
overwrite of the same bytes, so a notification for it twice is one batch to the aggregator); records
still buffered when the cloud stops are delivered by `close()`.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from infra.model import AccessLog

log = logging.getLogger("skyreel.local.accesslog")

FLUSH_S = 1.0  # Firehose in AWS: AccessLog.buffer_interval_s; shorter locally so results show quickly
MAX_RECORDS = 10_000


def access_record(
    request_id: str,
    started_epoch_s: float,
    method: str,
    route: str | None,
    status: int,
    latency_ms: float,
    authorizer: Mapping[str, Any] | None,
) -> dict[str, str]:
    """The record infra/aws/api.py's access log format writes (every value a string, `-` when absent)."""
    context = authorizer or {}
    return {
        "requestId": request_id,
        "requestTimeEpoch": str(int(started_epoch_s * 1000)),
        "httpMethod": method,
        "resourcePath": route or "-",
        "status": str(status),
        "responseLatency": f"{latency_ms:.3f}",
        "userId": str(context.get("user_id") or "-"),
        "apiKeyId": str(context.get("api_key_id") or "-"),
    }


class AccessLogEmitter:
    def __init__(
        self,
        access_log: AccessLog,
        bucket_name: str,
        stream_name: str,
        s3: Any,
        flush_s: float = FLUSH_S,
        max_records: int = MAX_RECORDS,
    ) -> None:
        self.access_log = access_log
        self.bucket_name = bucket_name
        self.stream_name = stream_name
        self._s3 = s3
        self._flush_s = flush_s
        self._max_records = max_records
        self._buffer: deque[dict[str, str]] = deque()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._delivering = threading.Lock()
        self.delivered_records = 0
        self._thread = threading.Thread(target=self._run, name="access-log", daemon=True)
        self._thread.start()

    def emit(self, record: dict[str, str]) -> None:
        """Buffer one record; never blocks on I/O (deque.append is atomic)."""
        self._buffer.append(record)
        if len(self._buffer) >= self._max_records:
            self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self._flush_s)
            self._wake.clear()
            self.flush()

    def flush(self) -> None:
        """Deliver everything buffered, one object per delivery; on failure keep retrying the same object."""
        with self._delivering:
            batch: list[dict[str, str]] = []
            while self._buffer and len(batch) < self._max_records:
                batch.append(self._buffer.popleft())
            if batch:
                self._deliver(batch)

    def _key(self, now: datetime) -> str:
        return (
            f"{self.access_log.prefix}dt={now:%Y-%m-%d}/"
            f"{self.stream_name}-1-{now:%Y-%m-%d-%H-%M-%S}-{uuid.uuid4()}"
        )

    def _deliver(self, batch: list[dict[str, str]]) -> None:
        key = self._key(datetime.now(UTC))
        body = "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in batch).encode()
        delay = 0.1
        while True:
            try:
                self._s3.put_object(
                    Bucket=self.bucket_name, Key=key, Body=body, ContentType="application/json"
                )
                self.delivered_records += len(batch)
                return
            except Exception:
                if self._stop.is_set() and delay > 2:
                    log.exception("access log: %d records could not be delivered at stop", len(batch))
                    return
                log.warning("access log delivery failed; retrying the same object", exc_info=True)
                time.sleep(delay)
                delay = min(delay * 2, 5.0)

    def close(self) -> None:
        """Stop the thread and deliver what is still buffered."""
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=10)
        while self._buffer:
            self.flush()
