"""Authorizer cost and registration latency through the local front door.

Authorizer: the same function doing the same work (an unknown path its resolver answers 404) behind a
public route (no authorizer: the baseline) and behind a protected one, with the authorizer's result
cache warm (cached) and off (uncached: JWT verification + a session read every time), one client.
Goal: cached <= 2 ms over the baseline at the median.
Registration: POST /auth/register end to end (argon2id hash + the Step Functions saga: four tasks),
against POST /auth/login in the same run (argon2id verify + a session write).

    python -m bench.auth [--requests 300] [--registrations 10]
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import http.client
import json
import time
import uuid
from collections.abc import Callable

from bench.stats import line, summary
from infra.local.cloud import LocalCloud, free_port
from infra.model import Auth, Route, Topology
from infra.topology import TOPOLOGY


def bench_topology(cache_ttl_s: str) -> Topology:
    functions = tuple(
        dataclasses.replace(fn, environment={**fn.environment, "AUTHORIZER_CACHE_TTL_S": cache_ttl_s})
        if fn.id == "auth_authorizer"
        else fn
        for fn in TOPOLOGY.functions
    )
    routes = (
        *TOPOLOGY.api.routes,
        Route("GET", "/api/bench/public", "platform", Auth.PUBLIC),
        Route("GET", "/api/bench/protected", "platform", Auth.PROTECTED),
    )
    return dataclasses.replace(
        TOPOLOGY, functions=functions, api=dataclasses.replace(TOPOLOGY.api, routes=routes)
    )


class Client:
    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def call(
        self,
        method: str,
        path: str,
        body: object | None = None,
        headers: dict[str, str] | None = None,
        expect: int | None = None,
    ) -> tuple[int, bytes]:
        payload = json.dumps(body) if body is not None else None
        all_headers = {"Content-Type": "application/json", **(headers or {})}
        try:
            self.conn.request(method, path, body=payload, headers=all_headers)
            response = self.conn.getresponse()
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            # The server closed the idle keep-alive connection (uvicorn does after 5 s idle):
            # reconnect and send again, as any HTTP client does.
            self.conn.close()
            self.conn.request(method, path, body=payload, headers=all_headers)
            response = self.conn.getresponse()
        data = response.read()
        if expect is not None and response.status != expect:
            raise AssertionError(f"{method} {path}: {response.status} {data[:200]!r}")
        return response.status, data


def timed(call: Callable[[], object], n: int) -> list[float]:
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def _sign_up(client: Client) -> tuple[str, str, str]:
    email, password = f"bench-{uuid.uuid4().hex[:8]}@example.com", "a long enough passphrase"
    client.call("POST", "/api/v1/auth/register", {"email": email, "password": password}, expect=201)
    tokens = json.loads(
        client.call("POST", "/api/v1/auth/login", {"email": email, "password": password}, expect=200)[1]
    )
    key = json.loads(
        client.call(
            "POST",
            "/api/v1/auth/api-keys",
            {"name": "bench", "scopes": ["search"]},
            {"Authorization": f"Bearer {tokens['access_token']}"},
            expect=201,
        )[1]
    )["key"]
    return email, tokens["access_token"], key


def authorizer_cost(requests: int, cache_ttl_s: str) -> dict[str, list[float]]:
    with LocalCloud(bench_topology(cache_ttl_s), port=free_port(), log_sink=lambda s, line: None) as cloud:
        client = Client(cloud.port)
        _, token, key = _sign_up(client)
        bearer, api_key = {"Authorization": f"Bearer {token}"}, {"X-API-Key": key}

        def public() -> object:
            return client.call("GET", "/api/bench/public", expect=404)

        def with_jwt() -> object:
            return client.call("GET", "/api/bench/protected", headers=bearer, expect=404)

        def with_key() -> object:
            return client.call("GET", "/api/bench/protected", headers=api_key, expect=404)

        for call in (public, with_jwt, with_key):
            timed(call, 20)  # warm sandboxes, clients and caches
        samples: dict[str, list[float]] = {"public": [], "jwt": [], "api_key": []}
        for _ in range(4):  # interleaved rounds: drift hits every series alike
            samples["public"] += timed(public, requests // 4)
            samples["jwt"] += timed(with_jwt, requests // 4)
            samples["api_key"] += timed(with_key, requests // 4)
        return samples


def registration(count: int) -> dict[str, list[float]]:
    with LocalCloud(TOPOLOGY, port=free_port(), log_sink=lambda s, line: None) as cloud:
        client = Client(cloud.port)
        _sign_up(client)  # warm every function the saga and login use
        register, login = [], []
        for _ in range(count):
            body = {
                "email": f"bench-{uuid.uuid4().hex[:8]}@example.com",
                "password": "a long enough passphrase",
            }
            register += timed(
                functools.partial(client.call, "POST", "/api/v1/auth/register", body, expect=201), 1
            )
            login += timed(functools.partial(client.call, "POST", "/api/v1/auth/login", body, expect=200), 1)
        return {"register": register, "login": login}


def run(requests: int = 300, registrations: int = 10) -> None:
    for label, ttl in (("cached", "60"), ("uncached", "0")):
        s = {k: summary(v) for k, v in authorizer_cost(requests, ttl).items()}
        base = s["public"]["median"]
        print(
            f"authorizer {label}: protected vs public route, same function, 1 client, {requests} requests each"
        )
        print(line("bearer JWT median", s["jwt"]["median"], base))
        print(line("API key median", s["api_key"]["median"], base))
        print(
            f"  authorizer cost at the median: JWT {s['jwt']['median'] - base:.2f} ms, "
            f"API key {s['api_key']['median'] - base:.2f} ms"
            + (" (goal <= 2 ms)" if label == "cached" else "")
        )
    r = {k: summary(v) for k, v in registration(registrations).items()}
    print(f"registration saga end to end, {registrations} sign-ups")
    print(
        line("POST /auth/register median", r["register"]["median"], r["login"]["median"])
        + "  (baseline: login)"
    )
    print(line("POST /auth/register p99", r["register"]["p99"], r["login"]["p99"]))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--registrations", type=int, default=10)
    args = parser.parse_args()
    run(args.requests, args.registrations)
