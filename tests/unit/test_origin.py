"""Only requests that came through the CDN reach the API: the origin header, in the resolver and the authorizer."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from functions.auth import authorizer, wiring
from functions.auth.settings import AuthorizerSettings
from functions.shared import aws, origin
from functions.shared.api import create_resolver

SECRET = "s3cr3t-origin-value-from-the-cdn"
app = create_resolver()


@app.post("/api/v1/things")
def create_thing(body: dict[str, str]) -> dict[str, str]:
    return body


@app.get("/api/v1/open")
def open_route() -> dict[str, str]:
    return {"ok": "yes"}


class Context:
    function_name = "skyreel-auth-authorizer"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:skyreel-auth-authorizer"
    aws_request_id = "req-1"


@pytest.fixture
def behind_the_cdn(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    with mock_aws():
        aws.reset_clients()
        origin._expected.cache_clear()
        arn = boto3.client("secretsmanager", region_name="us-east-1").create_secret(
            Name="skyreel/origin_verify", SecretString=SECRET
        )["ARN"]
        monkeypatch.setenv(origin.SECRET_ID_ENV, arn)
        yield
        origin._expected.cache_clear()
        aws.reset_clients()


def call(path: str, headers: dict[str, str], method: str = "GET", body: str | None = None) -> tuple[int, Any]:
    event = {
        "httpMethod": method,
        "path": path,
        "resource": path,
        "headers": {"content-type": "application/json", **headers},
        "requestContext": {"requestId": "r", "stage": "prod"},
        "queryStringParameters": None,
        "body": body,
        "isBase64Encoded": False,
    }
    result = app.resolve(event, None)  # type: ignore[arg-type]
    return result["statusCode"], json.loads(result["body"])


@pytest.mark.usefixtures("behind_the_cdn")
@pytest.mark.parametrize(
    "headers",
    [{}, {"X-Origin-Verify": ""}, {"X-Origin-Verify": "guess"}, {"X-Origin-Verify": SECRET + "x"}],
    ids=["missing", "empty", "wrong", "longer"],
)
def test_a_request_without_the_origin_secret_is_403(headers: dict[str, str]) -> None:
    status, body = call("/api/v1/open", headers)
    assert status == 403
    assert body["error"]["code"] == "forbidden"
    assert SECRET not in json.dumps(body)


@pytest.mark.usefixtures("behind_the_cdn")
def test_the_origin_is_checked_before_the_body() -> None:
    """An invalid body from outside the CDN learns nothing about the API's validation."""
    status, body = call("/api/v1/things", {}, method="POST", body="{not json")
    assert status == 403
    assert body["error"]["code"] == "forbidden"


@pytest.mark.usefixtures("behind_the_cdn")
def test_through_the_cdn_the_request_is_served_and_the_secret_is_read_once() -> None:
    for name in ("X-Origin-Verify", "x-origin-verify"):
        assert call("/api/v1/open", {name: SECRET}) == (200, {"ok": "yes"})
    assert origin._expected.cache_info().misses == 1


@pytest.mark.usefixtures("behind_the_cdn")
def test_the_authorizer_denies_a_request_that_skipped_the_cdn(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = {"AUTH_TABLE_NAME": "t", "JWT_PUBLIC_KEYS_SECRET_ID": "p", "USAGE_KEY_SALT_SECRET_ID": "s"}
    monkeypatch.setattr(wiring, "authorizer_settings", lambda: AuthorizerSettings.model_validate(settings))
    arn = "arn:aws:execute-api:us-east-1:123456789012:api/prod/GET/api/v1/auth/me"
    event = {"type": "REQUEST", "methodArn": arn, "headers": {"Authorization": "Bearer x"}}
    result = authorizer.lambda_handler(event, Context())  # type: ignore[arg-type]
    statement = result["policyDocument"]["Statement"][0]
    assert (statement["Effect"], statement["Resource"]) == ("Deny", arn)


def test_a_function_not_behind_the_cdn_checks_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(origin.SECRET_ID_ENV, raising=False)
    assert call("/api/v1/open", {}) == (200, {"ok": "yes"})
