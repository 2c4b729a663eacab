"""Health logic: run one probe per dependency at once and summarise. No boto3 here (see probes.py)."""

from __future__ import annotations

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
        body: dict[str, object] = {
            "status": "ok" if self.ok else "failing",
            "latency_ms": round(self.latency_ms, 2),
        }
        if self.reason:
            body["reason"] = self.reason
        return body


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


def _run(probe: Probe, ref: ResourceRef) -> CheckResult:
    started = time.perf_counter()
    try:
        probe(ref)
    except Exception as exc:
        return CheckResult(f"{ref.kind}:{ref.name}", False, (time.perf_counter() - started) * 1000, str(exc))
    return CheckResult(f"{ref.kind}:{ref.name}", True, (time.perf_counter() - started) * 1000)


def check_all(
    refs: Sequence[ResourceRef], probe_for: Callable[[ResourceRef], Probe], pool: ThreadPoolExecutor
) -> HealthReport:
    """Probe every dependency concurrently, so health costs the slowest probe, not their sum."""
    futures = [pool.submit(_run, probe_for(ref), ref) for ref in refs]
    return HealthReport(tuple(f.result() for f in futures))
