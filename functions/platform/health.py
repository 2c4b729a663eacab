"""Health logic: run one probe per dependency at once and summarise. No boto3 here (see probes.py)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from functions.shared.config import ResourceRef

Probe = Callable[[ResourceRef], None]  # returns when the dependency answers; raises with the reason


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    latency_ms: float
    reason: str | None = None

    def as_dict(self) -> dict[str, object]:
        """What a caller sees: the check's name, state and latency. Never the reason: `/health` is public,
        and an AWS error names account ids, role ARNs and resource names (the reason goes to the log)."""
        return {"status": "ok" if self.ok else "failing", "latency_ms": round(self.latency_ms, 2)}


@dataclass(frozen=True)
class HealthReport:
    checks: tuple[CheckResult, ...]

    @property
    def healthy(self) -> bool:
        return all(c.ok for c in self.checks)

    def as_dict(self) -> dict[str, object]:
        return {
            "status": "ok" if self.healthy else "degraded",
            "checks": {c.name: c.as_dict() for c in self.checks},
        }

    def failures(self) -> dict[str, str]:
        """Each failing check with its reason: for the log only."""
        return {c.name: c.reason or "failed" for c in self.checks if not c.ok}


def _run(probe: Probe, ref: ResourceRef) -> CheckResult:
    started = time.perf_counter()
    try:
        probe(ref)
    except Exception as exc:
        return CheckResult(f"{ref.kind}:{ref.name}", False, (time.perf_counter() - started) * 1000, str(exc))
    return CheckResult(f"{ref.kind}:{ref.name}", True, (time.perf_counter() - started) * 1000)


class CachedHealth:
    """Reuse a report for `ttl_s`: health is polled by load balancers and monitors, and each report costs a
    call to every dependency, so a burst of health checks must not become a burst on the dependencies."""

    def __init__(self, ttl_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self._clock = clock
        self._report: HealthReport | None = None
        self._at = 0.0
        self._lock = threading.Lock()

    def get(self, produce: Callable[[], HealthReport]) -> HealthReport:
        with self._lock:  # one probe round at a time; concurrent callers share its result
            if self._report is None or self._clock() - self._at >= self.ttl_s:
                self._report = produce()
                self._at = self._clock()
            return self._report


def check_all(
    refs: Sequence[ResourceRef], probe_for: Callable[[ResourceRef], Probe], pool: ThreadPoolExecutor
) -> HealthReport:
    """Probe every dependency concurrently, so health costs the slowest probe, not their sum."""
    futures = [pool.submit(_run, probe_for(ref), ref) for ref in refs]
    return HealthReport(tuple(f.result() for f in futures))
