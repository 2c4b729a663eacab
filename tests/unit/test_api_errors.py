"""The one error mapper: every failure leaves as {"error": {code, message, details}} with the right status."""

import base64
import json
from typing import Any

import pytest
from botocore.exceptions import ClientError
from pydantic import BaseModel, Field

from functions.shared import errors
from functions.shared.api import create_resolver

app = create_resolver()


class Body(BaseModel):
    title: str = Field(min_length=1)


@app.post("/api/v1/things")
def create_thing(body: Body) -> dict[str, str]:
    return {"title": body.title}


@app.get("/api/v1/raise/<kind>")
def raise_kind(kind: str) -> None:
    raise {
        "missing": errors.NotFoundError("No video abc."),
        "dupe": errors.ConflictError("That email is taken."),
        "slow": errors.ThrottledError("Too many attempts.", retry_after_s=30),
        "down": errors.DependencyUnavailableError("The videos table did not answer."),
        "big": errors.PayloadTooLargeError("Over 5 GB."),
        "bug": RuntimeError("secret internals"),
    }[kind]


ARN = "arn:aws:iam::210987654321:role/skyreel-videos-role"
DENIED = {"Error": {"Code": "AccessDeniedException", "Message": f"User: {ARN} is not authorized"}}


@app.get("/api/v1/aws/<kind>")
def aws_failure(kind: str) -> None:
    """How a repository turns an AWS failure into a 503, with the AWS error as its cause."""
    try:
        raise ClientError(DENIED, "GetItem")  # type: ignore[arg-type]
    except ClientError as exc:
        message = {
            "code": f"The videos table did not answer ({exc.response['Error']['Code']}).",
            "text": f"The videos table did not answer: {exc}",
            "arn": f"Could not assume {ARN}.",
            "ours": "Registration is taking too long; try signing in shortly.",
        }[kind]
        raise errors.DependencyUnavailableError(message) from exc


def call(method: str, path: str, body: str | None = None) -> tuple[int, dict[str, Any], dict[str, list[str]]]:
    event = {
        "httpMethod": method,
        "path": path,
        "resource": path,
        "headers": {"content-type": "application/json"},
        "requestContext": {"requestId": "r", "stage": "local"},
        "queryStringParameters": None,
        "body": body,
        "isBase64Encoded": False,
    }
    result = app.resolve(event, None)  # type: ignore[arg-type]
    return result["statusCode"], json.loads(result["body"]), result.get("multiValueHeaders") or {}


@pytest.mark.parametrize(
    ("kind", "status", "code"),
    [
        ("missing", 404, "not_found"),
        ("dupe", 409, "conflict"),
        ("slow", 429, "throttled"),
        ("down", 503, "dependency_unavailable"),
        ("big", 413, "payload_too_large"),
        ("bug", 500, "internal_error"),
    ],
)
def test_domain_errors_map_to_status_and_shape(kind: str, status: int, code: str) -> None:
    got_status, body, _ = call("GET", f"/api/v1/raise/{kind}")
    assert got_status == status
    assert body["error"]["code"] == code
    assert set(body["error"]) == {"code", "message", "details"}


def test_internal_errors_do_not_leak_details() -> None:
    _, body, _ = call("GET", "/api/v1/raise/bug")
    assert "secret internals" not in json.dumps(body)


@pytest.mark.parametrize("kind", ["code", "text", "arn"])
def test_a_503_never_carries_what_aws_said(kind: str, caplog: pytest.LogCaptureFixture) -> None:
    status, body, _ = call("GET", f"/api/v1/aws/{kind}")
    assert status == 503
    assert body["error"]["code"] == "dependency_unavailable"
    text = json.dumps(body)
    for leaked in ("AccessDenied", "210987654321", "arn:aws", "not authorized"):
        assert leaked not in text
    assert "AccessDeniedException" in json.dumps([getattr(r, "causes", None) for r in caplog.records])


def test_a_503_in_our_own_words_is_kept() -> None:
    status, body, _ = call("GET", "/api/v1/aws/ours")
    assert status == 503
    assert body["error"]["message"] == "Registration is taking too long; try signing in shortly."


def test_throttled_carries_retry_after() -> None:
    _, _, headers = call("GET", "/api/v1/raise/slow")
    assert headers["Retry-After"] == ["30"]


def test_invalid_body_is_422_with_the_field_named() -> None:
    status, body, _ = call("POST", "/api/v1/things", json.dumps({"title": ""}))
    assert status == 422
    assert body["error"]["code"] == "validation_failed"
    assert any("title" in d["location"] for d in body["error"]["details"])


def test_malformed_json_is_400() -> None:
    status, body, _ = call("POST", "/api/v1/things", "{not json")
    assert status == 400
    assert body["error"]["code"] == "malformed_request"


def test_valid_body_passes() -> None:
    assert call("POST", "/api/v1/things", json.dumps({"title": "x"}))[:2] == (200, {"title": "x"})


def test_a_form_body_is_415_with_a_hint() -> None:
    event = {
        "httpMethod": "POST",
        "path": "/api/v1/things",
        "resource": "/api/v1/things",
        "headers": {"content-type": "application/x-www-form-urlencoded"},
        "requestContext": {"requestId": "r", "stage": "local"},
        "queryStringParameters": None,
        "body": '{"title": "x"}',
        "isBase64Encoded": False,
    }
    result = app.resolve(event, None)  # type: ignore[arg-type]
    assert result["statusCode"] == 415
    assert "application/json" in json.loads(result["body"])["error"]["message"]


def test_unknown_route_is_404_in_the_contract_shape() -> None:
    status, body, _ = call("GET", "/api/v1/nowhere")
    assert status == 404
    assert body["error"]["code"] == "not_found"


@pytest.mark.parametrize("raw", [b"\x97", b'{"title": "caf\xe9"}', b"\xff\xfe{}"])
def test_a_body_that_is_not_utf8_is_400_malformed(raw: bytes) -> None:
    """API Gateway hands a body that is not UTF-8 over base64-encoded; powertools' decoded_body then raises
    UnicodeDecodeError inside validation (issue 15, finding 1): a 400, not a 500."""
    event = {
        "httpMethod": "POST",
        "path": "/api/v1/things",
        "resource": "/api/v1/things",
        "headers": {"content-type": "application/json"},
        "requestContext": {"requestId": "r", "stage": "local"},
        "queryStringParameters": None,
        "body": base64.b64encode(raw).decode(),
        "isBase64Encoded": True,
    }
    result = app.resolve(event, None)  # type: ignore[arg-type]
    assert result["statusCode"] == 400
    error = json.loads(result["body"])["error"]
    assert error["code"] == "malformed_request"
    assert "UTF-8" in error["message"]
    assert error["details"] == []


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/xml", "application/octet-stream", "multipart/form-data"]
)
def test_a_body_in_another_media_type_is_415_not_500(content_type: str) -> None:
    """Found by the fuzzer (issue 15): powertools raises RequestUnsupportedContentType for a body it has no
    parser for (anything but JSON and forms), and a bare ValueError for multipart/form-data without a
    boundary; both reached the catch-all as a 500."""
    event = {
        "httpMethod": "POST",
        "path": "/api/v1/things",
        "resource": "/api/v1/things",
        "headers": {"content-type": content_type},
        "requestContext": {"requestId": "r", "stage": "local"},
        "queryStringParameters": None,
        "body": '{"title": "x"}',
        "isBase64Encoded": False,
    }
    result = app.resolve(event, None)  # type: ignore[arg-type]
    assert result["statusCode"] == 415
    error = json.loads(result["body"])["error"]
    assert error["code"] == "unsupported_media_type"
    assert "application/json" in error["message"]


@app.get("/api/v1/bug")
def value_error_bug() -> None:
    raise ValueError("our own bug")


def test_a_value_error_of_our_own_is_still_a_500() -> None:
    status, body, _ = call("GET", "/api/v1/bug")
    assert status == 500
    assert body["error"]["code"] == "internal_error"
