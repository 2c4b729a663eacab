"""The local Lambda runtime: real handlers in sandbox processes, with Lambda's concurrency and timeouts.

Each function gets a pool of worker processes (`infra.local.worker`), started on demand with the
function's own environment, kept warm between invocations, and killed when an invocation runs past
the function's timeout (as Lambda freezes and discards a timed-out sandbox). A reserved concurrency
is a hard limit (excess synchronous calls are throttled, as Lambda does); otherwise the local
concurrency caps how many sandboxes run at once and further calls wait for one.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import select
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from infra.model import ROOT, Function

log = logging.getLogger("skyreel.local.runtime")

LogSink = Callable[[str, str], None]  # (function id, line)
INIT_TIMEOUT_S = 10  # Lambda's limit for a sandbox's init phase (on-demand functions)


class InvocationError(Exception):
    """The invocation failed: the handler raised, the sandbox died, timed out, or was throttled."""

    def __init__(self, error_type: str, message: str, stack: list[str] | None = None) -> None:
        super().__init__(f"{error_type}: {message}")
        self.error_type = error_type
        self.message = message
        self.stack = stack or []

    def payload(self) -> dict[str, Any]:
        """The error document Lambda returns (and Step Functions reads `errorType` from)."""
        return {"errorType": self.error_type, "errorMessage": self.message, "stackTrace": self.stack}


class ThrottledError(InvocationError):
    def __init__(self, function_id: str) -> None:
        super().__init__(
            "TooManyRequestsException", f"Rate exceeded: {function_id} is at its reserved concurrency"
        )


@dataclass
class Invocation:
    result: Any
    duration_ms: float
    cold_start: bool
    init_ms: float = 0.0


class _Sandbox:
    def __init__(self, fn: Function, env: Mapping[str, str], log_sink: LogSink) -> None:
        self.fn = fn
        req_read, self._req_write = os.pipe()
        self._resp_read, resp_write = os.pipe()
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "infra.local.worker", str(req_read), str(resp_write)],
            env=dict(env),
            cwd=ROOT,
            pass_fds=(req_read, resp_write),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            # Own session: Ctrl-C stops the cloud, which then stops its sandboxes in order.
            start_new_session=True,
        )
        os.close(req_read)
        os.close(resp_write)
        self._requests = os.fdopen(self._req_write, "wb")
        self._responses = os.fdopen(self._resp_read, "rb")
        for stream in (self.process.stdout, self.process.stderr):
            threading.Thread(
                target=self._pump_logs, args=(stream, log_sink), daemon=True, name=f"logs-{fn.id}"
            ).start()
        self.init_ms = 0.0
        self.used = False

    def _pump_logs(self, stream: IO[bytes] | None, sink: LogSink) -> None:
        if stream is None:
            return
        for raw in iter(stream.readline, b""):
            sink(self.fn.id, raw.decode(errors="replace").rstrip("\n"))

    def _read(self, deadline: float) -> dict[str, Any]:
        remaining = deadline - time.time()
        ready, _, _ = select.select([self._resp_read], [], [], max(0.0, remaining))
        if not ready:
            raise TimeoutError
        line = self._responses.readline()
        if not line:
            code = self.process.wait(timeout=5)
            raise InvocationError("Runtime.ExitError", f"the sandbox exited (status {code}) mid-invocation")
        return json.loads(line)  # type: ignore[no-any-return]

    def start(self) -> None:
        """The init phase (imports, module-level setup), bounded like Lambda's: its own 10 s, not the
        function's timeout, which starts counting at the invocation."""
        try:
            report = self._read(time.time() + INIT_TIMEOUT_S)
        except TimeoutError:
            self.kill()
            raise InvocationError(
                "Sandbox.Timedout", f"init did not finish within {INIT_TIMEOUT_S} s"
            ) from None
        if not report.get("init"):
            self.kill()
            raise InvocationError(
                report.get("errorType", "Runtime.InitError"),
                report.get("errorMessage", ""),
                report.get("stackTrace"),
            )
        self.init_ms = float(report["init_ms"])

    def invoke(self, event: Any, request_id: str, deadline: float) -> Any:
        self.used = True
        message = {"event": event, "request_id": request_id, "deadline": deadline}
        self._requests.write(json.dumps(message).encode() + b"\n")
        self._requests.flush()
        try:
            response = self._read(deadline)
        except TimeoutError:
            self.kill()
            raise InvocationError(
                "Sandbox.Timedout", f"Task timed out after {self.fn.timeout_s:.2f} seconds"
            ) from None
        if not response.get("ok"):
            raise InvocationError(
                response.get("errorType", "Error"),
                response.get("errorMessage", ""),
                response.get("stackTrace"),
            )
        return response["result"]

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        if self.alive():
            self.process.kill()
        self.process.wait()
        for stream in (self._requests, self._responses):
            with contextlib.suppress(OSError):
                stream.close()


@dataclass
class _Pool:
    fn: Function
    env: dict[str, str]
    limit: int
    hard_limit: bool  # reserved concurrency: throttle instead of queueing
    slots: threading.BoundedSemaphore = field(init=False)
    idle: list[_Sandbox] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    invocations: int = 0
    cold_starts: int = 0

    def __post_init__(self) -> None:
        self.slots = threading.BoundedSemaphore(self.limit)


class LambdaRuntime:
    def __init__(self, functions: Sequence[tuple[Function, Mapping[str, str]]], log_sink: LogSink) -> None:
        self._log_sink = log_sink
        self._pools: dict[str, _Pool] = {}
        for fn, env in functions:
            reserved = fn.reserved_concurrency
            self._pools[fn.id] = _Pool(fn, dict(env), reserved or fn.local_concurrency, reserved is not None)
        self._closed = False

    @property
    def function_ids(self) -> list[str]:
        return list(self._pools)

    def function(self, function_id: str) -> Function:
        return self._pool(function_id).fn

    def _pool(self, function_id: str) -> _Pool:
        try:
            return self._pools[function_id]
        except KeyError:
            raise InvocationError("ResourceNotFoundException", f"Function not found: {function_id}") from None

    def invoke(self, function_id: str, event: Any, *, wait_s: float | None = None) -> Invocation:
        """Run one invocation synchronously and return its result, or raise InvocationError."""
        pool = self._pool(function_id)
        if self._closed:
            raise InvocationError("ServiceUnavailable", "the local cloud is stopping")
        if pool.hard_limit and not wait_s:
            acquired = pool.slots.acquire(blocking=False)
        else:
            acquired = pool.slots.acquire(timeout=wait_s)
        if not acquired:
            raise ThrottledError(function_id)
        try:
            return self._invoke_in_sandbox(pool, event)
        finally:
            pool.slots.release()

    def _invoke_in_sandbox(self, pool: _Pool, event: Any) -> Invocation:
        started = time.perf_counter()
        with pool.lock:
            sandbox = pool.idle.pop() if pool.idle else None
        cold = sandbox is None
        if sandbox is None:
            sandbox = _Sandbox(pool.fn, pool.env, self._log_sink)
            sandbox.start()
            pool.cold_starts += 1
        deadline = time.time() + pool.fn.timeout_s
        pool.invocations += 1
        try:
            result = sandbox.invoke(event, str(uuid.uuid4()), deadline)
        except InvocationError:
            if sandbox.alive():  # a handler error leaves the sandbox usable, as in Lambda
                self._return(pool, sandbox)
            raise
        self._return(pool, sandbox)
        return Invocation(
            result, (time.perf_counter() - started) * 1000, cold, sandbox.init_ms if cold else 0.0
        )

    def _return(self, pool: _Pool, sandbox: _Sandbox) -> None:
        if self._closed:
            sandbox.kill()
            return
        with pool.lock:
            pool.idle.append(sandbox)

    def prewarm(self, function_id: str) -> None:
        """Start one sandbox ahead of the first request, so it pays no cold start."""
        pool = self._pool(function_id)
        with pool.lock:
            if pool.idle:
                return
        sandbox = _Sandbox(pool.fn, pool.env, self._log_sink)
        try:
            sandbox.start()
        except InvocationError as exc:
            log.warning("could not prewarm %s: %s", function_id, exc)
            return
        pool.cold_starts += 1
        self._return(pool, sandbox)

    def stats(self) -> dict[str, dict[str, int]]:
        return {
            fid: {"invocations": p.invocations, "cold_starts": p.cold_starts, "warm": len(p.idle)}
            for fid, p in self._pools.items()
        }

    def close(self) -> None:
        self._closed = True
        for pool in self._pools.values():
            with pool.lock:
                sandboxes, pool.idle = pool.idle, []
            for sandbox in sandboxes:
                sandbox.kill()
