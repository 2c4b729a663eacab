"""Small helpers shared by the benchmarks."""

from __future__ import annotations

import statistics
from collections.abc import Sequence


def percentile(samples: Sequence[float], q: float) -> float:
    ordered = sorted(samples)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def summary(samples: Sequence[float]) -> dict[str, float]:
    return {"median": statistics.median(samples), "p99": percentile(samples, 99), "n": float(len(samples))}


def line(name: str, value: float, baseline: float, unit: str = "ms") -> str:
    ratio = value / baseline if baseline else float("nan")
    return f"  {name:<44} {value:9.2f} {unit}   {ratio:6.2f}x baseline ({baseline:.2f} {unit})"
