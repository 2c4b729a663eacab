"""`make dev` time to healthy, once installed: from launching `python -m infra.local` to the first
200 from /api/v1/health. Baseline: the same interpreter importing the local cloud's modules and exiting
(what any Python launcher of this stack pays). Goal: <= 10 s.

    python -m bench.startup [--runs 3]
"""

from __future__ import annotations

import argparse
import signal
import statistics
import subprocess
import sys
import tempfile
import time

import httpx

from bench.stats import line
from infra.local.cloud import free_port
from infra.model import ROOT


def _baseline() -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", "import infra.local.cloud, functions.platform.handler"], cwd=ROOT, check=True
    )
    return time.perf_counter() - started


def _time_to_healthy() -> float:
    port = free_port()
    with tempfile.TemporaryDirectory() as state:
        started = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, "-m", "infra.local", "--port", str(port), "--state-dir", state],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            while True:
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=5).status_code == 200:
                        return time.perf_counter() - started
                except httpx.TransportError:
                    pass
                if process.poll() is not None:
                    raise RuntimeError("make dev exited before it was healthy")
                time.sleep(0.02)
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=30)


def run(runs: int = 3) -> dict[str, float]:
    base = statistics.median(_baseline() for _ in range(runs))
    healthy = statistics.median(_time_to_healthy() for _ in range(runs))
    print(f"make dev time to healthy (median of {runs})")
    print(line("launch -> first healthy /api/v1/health", healthy, base, unit="s"))
    print(f"  goal <= 10 s: {'met' if healthy <= 10 else 'NOT met'}")
    return {"time_to_healthy_s": healthy}


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    run(parser.parse_args().runs)
