"""The local cloud's access log (infra/local/accesslog.py): what Firehose does in AWS, and the gateway's
record of every request, including the ones it answers itself."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from functions.analytics.usage.models import ACCESS_LOG_FORMAT, AccessRecord
from infra.local.accesslog import AccessLogEmitter
from infra.local.gateway import ApiGateway, HttpRequest
from infra.model import AccessLog, Api, Auth, Route


@pytest.fixture
def s3() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="usage-logs")
        yield client


def _bodies(s3: Any) -> dict[str, list[dict[str, str]]]:
    found = {}
    for entry in s3.list_objects_v2(Bucket="usage-logs").get("Contents", []):
        body = s3.get_object(Bucket="usage-logs", Key=entry["Key"])["Body"].read().decode()
        found[entry["Key"]] = [json.loads(line) for line in body.splitlines()]
    return found


def test_records_are_delivered_as_firehose_names_its_objects_and_none_is_lost(s3: Any) -> None:
    emitter = AccessLogEmitter(
        AccessLog("api", "usage-logs"), "usage-logs", "amazon-apigateway-x", s3, flush_s=60, max_records=4
    )
    for i in range(10):
        emitter.emit({"requestId": str(i)})
    emitter.close()  # what is still buffered is delivered at stop
    objects = _bodies(s3)
    assert all(
        re.fullmatch(r"requests/dt=\d{4}-\d{2}-\d{2}/amazon-apigateway-x-1-[\d-]{19}-[0-9a-f-]{36}", key)
        for key in objects
    )
    delivered = sorted(int(r["requestId"]) for records in objects.values() for r in records)
    assert delivered == list(range(10))
    assert max(len(records) for records in objects.values()) <= 4


def test_a_failed_delivery_is_retried_with_the_same_object(s3: Any) -> None:
    calls: list[str] = []

    class Flaky:
        def put_object(self, **request: Any) -> None:
            calls.append(request["Key"])
            if len(calls) == 1:
                raise ConnectionError("S3 did not answer")
            s3.put_object(**request)

    emitter = AccessLogEmitter(
        AccessLog("api", "usage-logs"), "usage-logs", "amazon-apigateway-x", Flaky(), flush_s=60
    )
    emitter.emit({"requestId": "a"})
    emitter.close()
    assert len(calls) == 2
    assert calls[0] == calls[1]
    assert [r["requestId"] for rs in _bodies(s3).values() for r in rs] == ["a"]


def test_the_gateway_records_every_request_in_the_stage_format() -> None:
    api = Api(name="t", routes=(Route("GET", "/api/x/{id}", "fn", Auth.PUBLIC),))
    seen: list[dict[str, str]] = []
    gateway = ApiGateway(api, lambda _f, _e: {"statusCode": 201, "body": ""}, access_log=seen.append)
    request = HttpRequest("GET", "/api/x/1", [("host", "h")], [], b"", "127.0.0.1", "h")
    assert gateway.handle(request).status == 201
    unknown = HttpRequest("GET", "/api/nothing", [("host", "h")], [], b"", "127.0.0.1", "h")
    assert gateway.handle(unknown).status == 404  # answered by the gateway itself: still recorded
    assert len(seen) == 2
    assert set(seen[0]) == set(ACCESS_LOG_FORMAT)
    first, second = (AccessRecord.model_validate(r) for r in seen)
    assert (first.route, first.status, first.user_id) == ("/api/x/{id}", 201, None)
    assert (second.route, second.status) == (None, 404)
    assert first.latency_ms >= 0
