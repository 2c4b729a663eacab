"""One local cloud per test session (per xdist worker): the real topology plus fixture functions."""

from __future__ import annotations

import dataclasses
import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from functions.shared.media_token import MediaKeys, sign
from infra.local.cloud import LocalCloud, free_port
from infra.model import (
    Auth,
    Bucket,
    EventRule,
    Function,
    Grant,
    Queue,
    QueueTrigger,
    Route,
    S3ToQueue,
    StateMachine,
    StreamTrigger,
    Table,
    Topology,
    UsagePlan,
)
from infra.topology import TOPOLOGY

_H = "tests.integration.fixture_handlers"
STORAGE_QUOTA_BYTES = 48 * 2**20  # per user on the free plan, in this topology


def _fn(fid: str, attr: str, **kwargs: Any) -> Function:
    return Function(
        id=fid, handler=f"{_H}.{attr}", description=f"test {attr}", tables=(Grant("records"),), **kwargs
    )


def _shipped_functions() -> tuple[Function, ...]:
    """The real functions, with two test-only adjustments made through the topology, not the code:
    the registration step can be told to fail, and the authorizer does not cache (so a revocation shows
    at once; its cache has unit tests)."""
    adjusted = []
    for shipped in TOPOLOGY.functions:
        fn = shipped
        if fn.id == "auth_registration":
            fn = dataclasses.replace(fn, handler=f"{_H}.failing_registration_step")
        if fn.id == "auth_authorizer":
            fn = dataclasses.replace(fn, environment={**fn.environment, "AUTHORIZER_CACHE_TTL_S": "0"})
        if fn.id == "videos":  # multipart from 6 MiB, in 5 MiB parts (S3's minimum), so tests stay small
            fn = dataclasses.replace(
                fn,
                environment={
                    **fn.environment,
                    "SINGLE_PUT_MAX_BYTES": str(6 * 2**20),
                    "MIN_PART_BYTES": str(5 * 2**20),
                    # a storage quota small enough to reach (docs/videos.md), big enough for other tests
                    "STORAGE_QUOTAS": json.dumps({"free": STORAGE_QUOTA_BYTES}),
                },
            )
        if fn.id == "transcode":  # chunk anything over 25 s, in 12 s chunks, so a test clip exercises the Map
            fn = dataclasses.replace(
                fn, environment={**fn.environment, "CHUNK_THRESHOLD_S": "25", "CHUNK_S": "12"}
            )
        if fn.id == "videos_delete_steps":
            fn = dataclasses.replace(
                fn, handler=f"{_H}.failing_delete_step", tables=(*fn.tables, Grant("records"))
            )
        adjusted.append(fn)
    return tuple(adjusted)


def _rules() -> tuple[EventRule, ...]:
    """The shipped rules, with the publish pipeline narrowed to test_publish.py's uploads (clip.mp4):
    the other tests upload bytes that are not video and watch states the pipeline would race past."""
    rules = []
    for rule in TOPOLOGY.rules:
        if rule.id == "publish_uploads":
            rule = dataclasses.replace(rule, pattern={**rule.pattern, "detail": {"filename": ["clip.mp4"]}})  # noqa: PLW2901
        rules.append(rule)
    return tuple(rules)


def fixture_topology() -> Topology:
    base = TOPOLOGY
    return dataclasses.replace(
        base,
        functions=(
            *_shipped_functions(),
            _fn("echo", "echo", timeout_s=3),
            _fn("recorder", "recorder", timeout_s=2),
            _fn("stepper", "stepper"),
            _fn("sleepy", "sleepy", timeout_s=1, reserved_concurrency=1),
            _fn("crash", "crash"),
        ),
        api=dataclasses.replace(
            base.api,
            routes=(
                *base.api.routes,
                Route("GET", "/api/test/echo/{id}", "echo", Auth.PUBLIC),
                Route("GET", "/api/test/private", "echo", Auth.PROTECTED),
                Route("GET", "/api/test/scoped", "echo", scope="videos:read"),
                Route("GET", "/api/test/crash", "crash", Auth.PUBLIC),
            ),
            # A small plan a test moves its own account to (the shipped default stays the first).
            usage_plans=(*base.api.usage_plans, UsagePlan("tiny", rate_per_s=1, burst=3)),
        ),
        tables=(*base.tables, Table("records"), Table("inbox", stream=True)),
        queues=(*base.queues, Queue("jobs", visibility_timeout_s=2, max_receive_count=2), Queue("drops")),
        buckets=(*base.buckets, Bucket("drop")),
        s3_to_queue=(*base.s3_to_queue, S3ToQueue(bucket="drop", queue="drops", prefix="in/")),
        queue_triggers=(*base.queue_triggers, QueueTrigger("jobs", "recorder", batch_size=10)),
        stream_triggers=(*base.stream_triggers, StreamTrigger("inbox", "recorder")),
        rules=(
            *_rules(),
            EventRule(
                "test_events",
                "events",
                {"source": ["skyreel.test", "skyreel.auth", "skyreel.videos", "skyreel.search"]},
                function="recorder",
            ),
        ),
        state_machines=(
            *base.state_machines,
            StateMachine(
                "steps", "tests/integration/workflow.asl.json", functions=("stepper",), tables=("records",)
            ),
        ),
    )


@pytest.fixture(scope="session")
def cloud() -> Iterator[LocalCloud]:
    local = LocalCloud(
        fixture_topology(), port=free_port(), prewarm=False, log_sink=lambda source, line: None
    )
    local.start()
    yield local
    local.stop()


@pytest.fixture(scope="session")
def http(cloud: LocalCloud) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=cloud.url, timeout=30) as client:
        yield client


@dataclasses.dataclass
class User:
    email: str
    password: str
    access_token: str
    refresh_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


def sign_up(http: httpx.Client, email: str | None = None, password: str = "a long enough passphrase") -> User:
    """Register through the API (the saga runs) and sign in."""
    email = email or f"user-{uuid.uuid4().hex[:10]}@example.com"
    created = http.post("/api/v1/auth/register", json={"email": email, "password": password})
    assert created.status_code == 201, created.text
    tokens = http.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert tokens.status_code == 200, tokens.text
    body = tokens.json()
    return User(email, password, body["access_token"], body["refresh_token"])


@pytest.fixture
def user(http: httpx.Client) -> User:
    return sign_up(http)


def media_token(cloud: LocalCloud, video_id: str, expires: int) -> str:
    """A playback token made with the local cloud's media key set, as the playback endpoint makes them."""
    value = cloud.aws.client("secretsmanager").get_secret_value(
        SecretId=cloud.names.secret("media_token_keys")
    )["SecretString"]
    return sign(MediaKeys.from_json(value), video_id, expires)


def eventually(check: Callable[[], Any], timeout: float = 15, interval: float = 0.1) -> Any:
    """Poll until `check` returns something truthy (asynchronous deliveries take a moment)."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


def records(cloud: LocalCloud, kind: str) -> list[str]:
    ddb = cloud.aws.client("dynamodb")
    items = ddb.query(
        TableName=cloud.names.table("records"),
        KeyConditionExpression="pk = :k",
        ExpressionAttributeValues={":k": {"S": kind}},
    )["Items"]
    return [item.get("payload", {}).get("S", item["sk"]["S"]) for item in items]
