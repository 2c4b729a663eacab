"""Start the shipped topology as `make dev` does, wait for `warm()`, make a public and a protected first
request, and print (as JSON) what the runtime counted before and after them.

test_dev_command.py runs this in a process of its own: the integration suite's cloud already runs in
the test process, and moto's state is process-wide (one LocalCloud per process).
"""

from __future__ import annotations

import json

import httpx

from infra.local.cloud import LocalCloud, free_port
from infra.topology import TOPOLOGY


def main() -> None:
    with LocalCloud(TOPOLOGY, port=free_port(), log_sink=lambda source, line: None) as cloud:
        warm = cloud.warm(timeout_s=240)
        before = cloud.runtime.stats()
        health = httpx.get(f"{cloud.url}/api/v1/health", timeout=60).status_code
        refused = httpx.get(
            f"{cloud.url}/api/v1/videos", headers={"Authorization": "Bearer x"}, timeout=60
        ).status_code
        after = cloud.runtime.stats()
    print(json.dumps({"warm": warm, "before": before, "after": after, "health": health, "refused": refused}))


if __name__ == "__main__":
    main()
