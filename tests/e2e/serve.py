"""The local cloud the browser tests drive, run as its own process (`python -m tests.e2e.serve --port P`):
one LocalCloud per process (docs/local-cloud.md), and the integration tests already hold one in theirs.

It is the shipped topology with two adjustments made through it, as tests/integration/conftest.py makes
them: multipart from 6 MiB in 5 MiB parts (S3's minimum), so a small generated clip goes up in parallel
parts; and an authorizer that does not cache, so a revoked key is refused at once."""

from __future__ import annotations

import argparse
import dataclasses
import signal
import sys
import threading
from pathlib import Path

from infra.local.cloud import LocalCloud, console_log_sink
from infra.model import Topology
from infra.topology import TOPOLOGY

SINGLE_PUT_MAX_BYTES = 6 * 2**20
PART_BYTES = 5 * 2**20


def e2e_topology() -> Topology:
    functions = []
    for fn in TOPOLOGY.functions:
        if fn.id == "videos":
            fn = dataclasses.replace(  # noqa: PLW2901
                fn,
                environment={
                    **fn.environment,
                    "SINGLE_PUT_MAX_BYTES": str(SINGLE_PUT_MAX_BYTES),
                    "MIN_PART_BYTES": str(PART_BYTES),
                },
            )
        if fn.id == "auth_authorizer":
            fn = dataclasses.replace(fn, environment={**fn.environment, "AUTHORIZER_CACHE_TTL_S": "0"})  # noqa: PLW2901
        functions.append(fn)
    return dataclasses.replace(TOPOLOGY, functions=tuple(functions))


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.e2e.serve")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--log", type=Path, required=True, help="every function's log lines go here")
    args = parser.parse_args()
    log = args.log.open("a", encoding="utf-8", buffering=1)
    cloud = LocalCloud(e2e_topology(), port=args.port, prewarm=False, log_sink=console_log_sink(log))
    stopping = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopping.set())
    cloud.start()
    print(f"ready {cloud.url}", flush=True)
    while not stopping.wait(0.25):
        pass
    cloud.stop()
    log.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
