"""Import time of each function module (`python -X importtime`): the part of a Lambda cold start that
our code controls. Baseline: importing boto3 alone, which every Python Lambda pays anyway.
Goal: <= 500 ms each.

    python -m bench.imports
"""

from __future__ import annotations

import re
import statistics
import subprocess
import sys
from pathlib import Path

from bench.stats import line
from infra.model import ROOT
from infra.topology import TOPOLOGY

_LINE = re.compile(r"import time:\s+\d+ \|\s+(\d+) \| (\s*)(\S+)")


def import_ms(module: str, cwd: Path = ROOT) -> float:
    """Cumulative import time of `module` in a fresh interpreter, in ms (best of 3: the least noise),
    importing from the source tree at `cwd` (another checkout for a before/after comparison)."""
    samples = []
    for _ in range(3):
        out = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", f"import {module}"],
            cwd=cwd,
            capture_output=True,
            text=True,
            check=True,
        ).stderr
        total = 0.0
        for match in _LINE.finditer(out):
            if not match.group(2):  # top-level imports only: their cumulative times add up to the whole
                total += int(match.group(1)) / 1000
        samples.append(total)
    return min(samples)


def run() -> dict[str, float]:
    base = import_ms("boto3")
    print("import time per function module (python -X importtime, best of 3)")
    figures = {}
    for module in sorted({fn.module for fn in TOPOLOGY.functions}):
        ms = import_ms(module)
        figures[module] = ms
        flag = "" if ms <= 500 else "   <- over the 500 ms goal"
        print(line(module, ms, base) + flag)
    print(
        f"  worst {max(figures.values()):.0f} ms (goal <= 500 ms); median {statistics.median(figures.values()):.0f} ms"
    )
    return figures


if __name__ == "__main__":
    run()
