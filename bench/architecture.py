"""The architecture issue's figures, before and after, in one run: the code at a baseline commit (the
tree before the handlers were thinned and the logic put behind ports) is checked out next to this one
and both are measured the same way on this machine.

- Test tiers: wall time of the baseline's unit tier (logic tested on moto), and of today's logic tier
  (use cases on in-memory fakes, network off; goal < 30 s) and unit tier (adapters on moto). Baseline:
  the baseline's unit tier.
- Cold start: import time of each function's handler module / importing boto3 alone, before and after.

    python -m bench.architecture [--baseline <commit>] [--skip-tests]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from bench.imports import import_ms
from bench.stats import line
from infra.model import ROOT

# The last commit before the architecture issue's work (main at the start of that session).
BASELINE = "ee81f7b"
WORKERS = os.environ.get("PYTEST_WORKERS", "2")


def checkout(ref: str, into: Path) -> Path:
    """The tree at `ref`, extracted (no git worktree left behind), using this checkout's environment."""
    archive = into / "tree.tar"
    subprocess.run(["git", "archive", "--format=tar", "-o", str(archive), ref], cwd=ROOT, check=True)
    tree = into / "tree"
    with tarfile.open(archive) as tar:
        tar.extractall(tree, filter="data")
    (tree / ".venv").symlink_to(ROOT / ".venv")
    return tree


def tier_seconds(tree: Path, *paths: str) -> float:
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "pytest", *paths, "-q", "-n", WORKERS, "-p", "no:cacheprovider"],
        cwd=tree,
        capture_output=True,
        text=True,
        check=False,  # the time of a run with a failure is still reported, with its summary line
    )
    elapsed = time.perf_counter() - started
    tail = (result.stdout.strip().splitlines() or ["(no output)"])[-1]
    print(f"    {' '.join(paths)} in {tree.name}: {tail}")
    return elapsed


def handler_modules(tree: Path) -> list[str]:
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "from infra.topology import TOPOLOGY; print('\\n'.join(sorted({f.module for f in TOPOLOGY.functions})))",
        ],
        cwd=tree,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return out.split()


def run(baseline: str = BASELINE, tests: bool = True) -> dict[str, float]:
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="skyreel-baseline-") as tmp:
        before = checkout(baseline, Path(tmp))
        if tests:
            print(f"test tiers, wall time with -n {WORKERS} (baseline: the unit tier at {baseline})")
            base = tier_seconds(before, "tests/unit")
            figures["logic_tier_s"] = tier_seconds(ROOT, "tests/logic")
            figures["unit_tier_s"] = tier_seconds(ROOT, "tests/unit")
            figures["contract_tier_s"] = tier_seconds(ROOT, "tests/contract")
            print(line(f"unit tier at {baseline} (logic on moto)", base, base, "s"))
            print(
                line("logic tier now (fakes, network off; goal < 30 s)", figures["logic_tier_s"], base, "s")
            )
            print(line("unit tier now (adapters on moto)", figures["unit_tier_s"], base, "s"))
            print(line("contract tier now (fake and adapter)", figures["contract_tier_s"], base, "s"))
            print()
        boto3 = import_ms("boto3")
        print(f"import time per handler module, before ({baseline}) and now (baseline: boto3 alone)")
        old, new = handler_modules(before), handler_modules(ROOT)
        for module in sorted(set(old) | set(new)):
            if module in old:
                print(line(f"{module} before", import_ms(module, before), boto3))
            if module in new:
                figures[module] = import_ms(module)
                print(line(f"{module} now", figures[module], boto3))
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--baseline", default=BASELINE)
    parser.add_argument("--skip-tests", action="store_true", help="only the import times")
    args = parser.parse_args()
    run(args.baseline, tests=not args.skip_tests)
