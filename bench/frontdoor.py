"""Front-door overhead: GET /api/v1/health through the local cloud's HTTP front door (API Gateway
semantics + sandbox process) against calling the same handler in-process, 16 clients at once, both
against the same moto server. Goal: overhead <= 3 ms at the median.

    python -m bench.frontdoor [--requests 800] [--clients 16]
"""

from __future__ import annotations

import argparse
import os
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx

from bench.stats import line, summary
from infra.local.cloud import LocalCloud, free_port
from infra.topology import TOPOLOGY


def _load(call: Callable[[], Any], clients: int, total: int) -> list[float]:
    """`clients` threads share `total` calls; returns per-call latency in ms."""
    latencies: list[float] = []
    lock = threading.Lock()
    remaining = [total]

    def worker() -> None:
        while True:
            with lock:
                if remaining[0] == 0:
                    return
                remaining[0] -= 1
            started = time.perf_counter()
            call()
            elapsed = (time.perf_counter() - started) * 1000
            with lock:
                latencies.append(elapsed)

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies


def _in_process_handler(cloud: LocalCloud) -> Callable[[], Any]:
    """The platform handler imported here, with the environment its sandbox gets."""
    fn = TOPOLOGY.function("platform")
    os.environ.update(cloud.function_environment())
    os.environ.update(TOPOLOGY.environment_for(fn, cloud.names))
    os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"
    from functions.platform import handler

    class Context:
        function_name = "skyreel-platform"
        memory_limit_in_mb = fn.memory_mb
        invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:skyreel-platform"
        aws_request_id = "bench"

    event = {
        "httpMethod": "GET",
        "path": "/api/v1/health",
        "resource": "/api/v1/health",
        "headers": {},
        "requestContext": {"requestId": "bench", "stage": "local"},
        "queryStringParameters": None,
        "body": None,
        "isBase64Encoded": False,
    }

    def call() -> None:
        result = handler.lambda_handler(event, Context())
        assert result["statusCode"] == 200, result

    return call


def run(requests: int = 800, clients: int = 16) -> dict[str, float]:
    with LocalCloud(TOPOLOGY, port=free_port(), log_sink=lambda s, line: None) as cloud:
        direct = _in_process_handler(cloud)
        limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
        with httpx.Client(base_url=cloud.url, limits=limits, timeout=30) as http:

            def via_front_door() -> None:
                response = http.get("/api/v1/health")
                assert response.status_code == 200, response.text

            # Warm both paths (imports, boto3 clients, one sandbox per concurrent client).
            _load(direct, clients, clients * 4)
            _load(via_front_door, clients, clients * 4)
            # Interleave rounds so drift on a shared machine hits both sides alike.
            base: list[float] = []
            front: list[float] = []
            for _ in range(4):
                base += _load(direct, clients, requests // 4)
                front += _load(via_front_door, clients, requests // 4)
    b, f = summary(base), summary(front)
    print(
        f"front door vs in-process handler, GET /api/v1/health, {clients} clients, {len(front)} requests each"
    )
    print(line("front door median", f["median"], b["median"]))
    print(line("front door p99", f["p99"], b["p99"]))
    print(
        f"  overhead: median {f['median'] - b['median']:.2f} ms (goal <= 3 ms), p99 {f['p99'] - b['p99']:.2f} ms"
    )
    return {"median_overhead_ms": f["median"] - b["median"], "p99_overhead_ms": f["p99"] - b["p99"]}


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=800)
    parser.add_argument("--clients", type=int, default=16)
    args = parser.parse_args()
    run(args.requests, args.clients)
