"""`python -m infra.local` (what `make dev` runs): start the local cloud and serve until Ctrl-C."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path

from infra.local.cloud import LocalCloud
from infra.topology import TOPOLOGY


def _describe(cloud: LocalCloud, ready_in_s: float) -> str:
    lines = [
        f"Skyreel is running at {cloud.url}  (ready in {ready_in_s:.1f} s)",
        f"  API docs     {cloud.url}/api/v1/docs",
        f"  AWS endpoint {cloud.aws_endpoint}  (AWS_ENDPOINT_URL for the aws CLI or boto3)",
        f"  state        {cloud.state_dir or 'in memory only'}",
        "  functions:",
    ]
    for fn in cloud.topology.functions:
        routes = cloud.topology.routes_of(fn.id)
        where = ", ".join(f"{r.method} {r.path}" for r in routes) or "events only"
        lines.append(f"    {fn.id:<21} {fn.memory_mb:>5} MB {fn.timeout_s:>4} s  {where}")
    lines.append("Press Ctrl-C to stop.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.local", description=__doc__)
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    parser.add_argument("--aws-port", type=int, default=int(os.environ.get("SKYREEL_AWS_PORT", "0")))
    parser.add_argument(
        "--state-dir", type=Path, default=Path(os.environ.get("SKYREEL_STATE_DIR", ".skyreel"))
    )
    parser.add_argument("--no-state", action="store_true", help="keep nothing across restarts")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")

    cloud = LocalCloud(
        TOPOLOGY,
        port=args.port,
        aws_port=args.aws_port,
        state_dir=None if args.no_state else args.state_dir.resolve(),
    )
    # Handlers go in before start(): a Ctrl-C while starting must stop what has started, not leave the
    # front door and moto threads running behind a KeyboardInterrupt.
    stopping = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopping.set())
    started = time.perf_counter()
    try:
        cloud.start()
    except OSError as exc:
        print(f"could not start: {exc}", file=sys.stderr)
        cloud.stop()
        return 1
    # "Ready" once the API's sandboxes are up, so the first request waits for none (in slices: Ctrl-C).
    while not stopping.is_set() and not cloud.warm(0.25):
        pass
    if not stopping.is_set():
        print(_describe(cloud, time.perf_counter() - started), flush=True)
    # Wait in short slices: the kernel may deliver the signal to any thread, and Python only runs its
    # handler when the main thread wakes, which a wait without a timeout never does.
    while not stopping.wait(0.25):
        pass
    print("\nstopping: saving state...", flush=True)
    cloud.stop()
    print("stopped.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
