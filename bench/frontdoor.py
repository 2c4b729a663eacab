"""Front-door overhead: GET /api/v1/health through the local cloud's HTTP front door (API Gateway
semantics + sandbox process) against calling the same handler in-process, 16 clients at once, both
against the same moto server. Goal: overhead <= 3 ms at the median.

    python -m bench.frontdoor [--requests 800] [--clients 16]
"""

from __future__ import annotations

import argparse
import http.client
import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from bench.stats import line, summary
from infra.local.cloud import LocalCloud, free_port
from infra.model import ROOT
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


def _in_process_handler() -> Callable[[], Any]:
    """The platform handler imported into this (client) process, with the environment its sandbox has."""
    from functions.platform import handler

    class Context:
        function_name = "skyreel-platform"
        memory_limit_in_mb = 256
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


def client(url: str, requests: int, clients: int) -> dict[str, list[float]]:
    """Both loads from one client process, so neither competes with the server for its interpreter."""
    direct = _in_process_handler()
    # One keep-alive connection per client thread, with http.client: the lightest client in the standard
    # library, so the load generator takes as little as possible of the two cores it shares with the server.
    parts = urlsplit(url)
    local = threading.local()

    def via_front_door() -> None:
        if not hasattr(local, "conn"):
            local.conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=60)
        local.conn.request("GET", "/api/v1/health")
        response = local.conn.getresponse()
        body = response.read()
        assert response.status == 200, body

    # Warm both paths: imports and clients, then one sandbox per concurrent client.
    for call in (direct, via_front_door):
        _load(call, 1, 3)
        _load(call, clients, clients * 4)
    # Interleave rounds so drift on a shared machine hits both sides alike.
    base: list[float] = []
    front: list[float] = []
    for _ in range(4):
        base += _load(direct, clients, requests // 4)
        front += _load(via_front_door, clients, requests // 4)
    return {"base": base, "front": front}


def run(requests: int = 800, clients: int = 16) -> dict[str, float]:
    """Report at one client (the per-request cost) and at `clients` (the goal's load; on a 2-core machine
    it saturates the CPU, and the median becomes mostly queueing time)."""
    figures: dict[str, float] = {}
    with LocalCloud(TOPOLOGY, port=free_port(), log_sink=lambda s, line: None) as cloud:
        env = {
            **cloud.sandbox_environment(TOPOLOGY.function("platform")),
            "POWERTOOLS_METRICS_DISABLED": "true",
        }
        for level in sorted({1, clients}):
            figures.update(_measure(cloud.url, env, requests, level))
    return figures


def _measure(url: str, env: dict[str, str], requests: int, clients: int) -> dict[str, float]:
    command = [
        sys.executable,
        "-m",
        "bench.frontdoor",
        "--client",
        url,
        "--requests",
        str(requests),
        "--clients",
        str(clients),
    ]
    out = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=True).stdout
    samples = json.loads(out.strip().splitlines()[-1])
    b, f = summary(samples["base"]), summary(samples["front"])
    print(
        f"front door vs in-process handler, GET /api/v1/health, {clients} client(s), {len(samples['front'])} requests"
    )
    print(line("front door median", f["median"], b["median"]))
    print(line("front door p99", f["p99"], b["p99"]))
    print(
        f"  overhead: median {f['median'] - b['median']:.2f} ms (goal <= 3 ms), p99 {f['p99'] - b['p99']:.2f} ms"
    )
    return {
        f"median_overhead_ms_{clients}": f["median"] - b["median"],
        f"p99_overhead_ms_{clients}": f["p99"] - b["p99"],
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=800)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--client", metavar="URL", help=argparse.SUPPRESS)  # the load-generating child
    args = parser.parse_args()
    if args.client:
        print(json.dumps(client(args.client, args.requests, args.clients)))
    else:
        run(args.requests, args.clients)
