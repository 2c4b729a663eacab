"""The platform function against moto (mock_aws): health per dependency, and the merged API document."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from functions.platform import handler, health, probes
from functions.shared import aws
from functions.shared.config import ResourceKind, ResourceRef
from infra.topology import TOPOLOGY

ENV = {
    "VIDEOS_TABLE_NAME": "videos",
    "AUTH_TABLE_NAME": "auth",
    "MEDIA_BUCKET_NAME": "skyreel-media",
    "INGEST_QUEUE_URL": "",
}


class Context:
    function_name = "skyreel-platform"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:skyreel-platform"
    aws_request_id = "req-1"


@pytest.fixture
def resources(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    with mock_aws():
        probes._client.cache_clear()
        aws.reset_clients()
        ddb = boto3.client("dynamodb")
        for table in ("videos", "auth"):
            ddb.create_table(
                TableName=table,
                BillingMode="PAY_PER_REQUEST",
                KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            )
        boto3.client("s3").create_bucket(Bucket="skyreel-media")
        env = dict(ENV, INGEST_QUEUE_URL=boto3.client("sqs").create_queue(QueueName="ingest")["QueueUrl"])
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("HEALTH_CACHE_TTL_S", "0")
        monkeypatch.setenv("API_HANDLER_MODULES", ",".join(TOPOLOGY.api_handler_modules()))
        handler._cache.cache_clear()
        yield env
        handler._cache.cache_clear()
        probes._client.cache_clear()


def get(path: str) -> tuple[int, Any]:
    event = {
        "httpMethod": "GET",
        "path": path,
        "resource": path,
        "headers": {},
        "requestContext": {"requestId": "r", "stage": "local"},
        "queryStringParameters": None,
        "body": None,
        "isBase64Encoded": False,
    }
    result = handler.lambda_handler(event, Context())  # type: ignore[arg-type]
    body = result["body"]
    return int(result["statusCode"]), json.loads(body) if body.startswith("{") else body


def test_health_checks_every_granted_dependency(resources: dict[str, str]) -> None:
    status, body = get("/api/v1/health")
    assert status == 200
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"table:videos", "table:auth", "bucket:media", "queue:ingest"}
    assert all(check["status"] == "ok" for check in body["checks"].values())


def test_health_names_the_failing_dependency(resources: dict[str, str]) -> None:
    boto3.client("dynamodb").delete_table(TableName="videos")
    status, body = get("/api/v1/health")
    assert status == 503
    assert body["status"] == "degraded"
    failing = {name for name, check in body["checks"].items() if check["status"] != "ok"}
    assert failing == {"table:videos"}
    assert body["checks"]["table:videos"] == {
        "status": "failing",
        "latency_ms": body["checks"]["table:videos"]["latency_ms"],
    }
    assert "ResourceNotFound" not in json.dumps(body)


ROLE_ARN = "arn:aws:sts::210987654321:assumed-role/skyreel-platform-role/skyreel-platform"


def test_health_says_which_check_failed_but_not_why(
    resources: dict[str, str], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """An AWS error names the account, the role and the resource: /health is public, so that stays in the log."""

    def denied(ref: ResourceRef) -> None:
        message = f"User: {ROLE_ARN} is not authorized to perform: s3:ListBucket on resource: {ref.address}"
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": message}}, "HeadBucket")

    monkeypatch.setitem(probes._PROBES, ResourceKind.BUCKET, denied)
    status, body = get("/api/v1/health")
    assert status == 503
    assert body["checks"]["bucket:media"]["status"] == "failing"
    text = json.dumps(body)
    for secret in ("210987654321", "arn:aws", "AccessDenied", "skyreel-media", "not authorized"):
        assert secret not in text
    logged = json.dumps([getattr(r, "failing", None) for r in caplog.records])
    assert "AccessDenied" in logged
    assert ROLE_ARN in logged


def test_health_reports_are_reused_within_their_ttl() -> None:
    now = [0.0]
    cache = health.CachedHealth(ttl_s=2, clock=lambda: now[0])
    produced = []

    def produce() -> health.HealthReport:
        produced.append(now[0])
        return health.HealthReport(())

    for t in (0.0, 1.9, 2.0, 2.5):
        now[0] = t
        cache.get(produce)
    assert produced == [0.0, 2.0]


def test_openapi_merges_every_domain(resources: dict[str, str]) -> None:
    status, body = get("/api/v1/openapi.json")
    assert status == 200
    assert body["info"]["title"] == "Skyreel API"
    assert "/api/v1/health" in body["paths"]
    assert "/api/v1/docs" not in body["paths"]


def test_docs_page_embeds_the_document(resources: dict[str, str]) -> None:
    status, page = get("/api/v1/docs")
    assert status == 200
    assert "swagger-ui" in page
    assert "/api/v1/health" in page
