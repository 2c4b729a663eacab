"""One local cloud per test session (per xdist worker): the real topology plus fixture functions."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from infra.local.cloud import LocalCloud, free_port
from infra.model import (
    Api,
    Auth,
    Authorizer,
    EventRule,
    Function,
    Grant,
    Queue,
    QueueTrigger,
    Route,
    StateMachine,
    StreamTrigger,
    Table,
    Topology,
)
from infra.topology import TOPOLOGY

_H = "tests.integration.fixture_handlers"


def _fn(fid: str, attr: str, **kwargs: Any) -> Function:
    return Function(
        id=fid, handler=f"{_H}.{attr}", description=f"test {attr}", tables=(Grant("records"),), **kwargs
    )


def fixture_topology() -> Topology:
    base = TOPOLOGY
    return dataclasses.replace(
        base,
        functions=(
            *base.functions,
            _fn("echo", "echo", timeout_s=3),
            _fn("authz", "authorizer"),
            _fn("recorder", "recorder", timeout_s=2),
            _fn("stepper", "stepper"),
            _fn("sleepy", "sleepy", timeout_s=1, reserved_concurrency=1),
            _fn("crash", "crash"),
        ),
        api=Api(
            name="test",
            prefixes=base.api.prefixes,
            authorizer=Authorizer("authz", ("Authorization",), 60),
            routes=(
                *base.api.routes,
                Route("GET", "/api/test/echo/{id}", "echo", Auth.PUBLIC),
                Route("GET", "/api/test/private", "echo", Auth.PROTECTED),
                Route("GET", "/api/test/crash", "crash", Auth.PUBLIC),
            ),
        ),
        tables=(*base.tables, Table("records"), Table("inbox", stream=True)),
        queues=(*base.queues, Queue("jobs", visibility_timeout_s=2, max_receive_count=2)),
        queue_triggers=(*base.queue_triggers, QueueTrigger("jobs", "recorder", batch_size=10)),
        stream_triggers=(*base.stream_triggers, StreamTrigger("inbox", "recorder")),
        rules=(
            *base.rules,
            EventRule("test_events", "events", {"source": ["skyreel.test"]}, function="recorder"),
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
