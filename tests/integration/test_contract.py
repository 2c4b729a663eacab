"""Issue 15 through the front door: every answer under /api/ is JSON in the API's error shape, whatever the
method, the path's bytes or the body's encoding."""

from __future__ import annotations

import http.client
from urllib.parse import urlsplit

import httpx
import pytest

from infra.local.cloud import LocalCloud
from tests.integration.conftest import User


def assert_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str)
    assert isinstance(body["error"]["details"], list)


@pytest.mark.parametrize(
    "path", ["/api/v1/auth/login", "/api/v1/auth/register", "/api/v1/auth/refresh", "/api/v1/videos"]
)
def test_a_body_that_is_not_utf8_is_400_on_every_json_route(
    http: httpx.Client, user: User, path: str
) -> None:
    """Finding 1: `printf '\\x97' | curl --data-binary @-` was a 500."""
    response = http.post(path, content=b"\x97", headers={**user.headers, "Content-Type": "application/json"})
    assert_error(response, 400, "malformed_request")


@pytest.mark.parametrize("content_type", ["text/plain", "multipart/form-data"])
def test_a_body_of_another_media_type_is_415_not_500(http: httpx.Client, content_type: str) -> None:
    """Found by the fuzzer: text/plain, and multipart/form-data without a boundary, were 500s."""
    response = http.post(
        "/api/v1/auth/refresh", content=b'{"refresh_token": "x"}', headers={"Content-Type": content_type}
    )
    assert_error(response, 415, "unsupported_media_type")


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PUT", "/api/v1/videos/abc", "DELETE, GET, PATCH"),
        ("TRACE", "/api/v1/videos/abc", "DELETE, GET, PATCH"),
        ("QUERY", "/api/v1/auth/login", "POST"),
        ("OPTIONS", "/api/v1/videos", "GET, POST"),
        ("PUT", "/.well-known/jwks.json", "GET"),
    ],
)
def test_another_method_on_a_documented_path_is_405_with_allow(
    cloud: LocalCloud, method: str, path: str, allow: str
) -> None:
    """Finding 2: TRACE/QUERY got `405 text/plain` from the static mount (a wrong Allow), PUT a 404."""
    response = httpx.request(method, cloud.url + path, timeout=30)
    assert_error(response, 405, "method_not_allowed")
    assert response.headers["allow"] == allow


@pytest.mark.parametrize("method", ["TRACE", "QUERY", "GET"])
def test_any_method_on_an_unknown_api_path_is_a_json_404(cloud: LocalCloud, method: str) -> None:
    assert_error(httpx.request(method, cloud.url + "/api/v1/nothing/here", timeout=30), 404, "not_found")


@pytest.mark.parametrize(
    "path", ["/api/v1/videos/a%0Ab", "/api/v1/videos/a%0A", "/api/v1/videos/%0A/playback", "/api/v1/x%0Ay"]
)
def test_a_newline_in_a_path_is_json_not_text(cloud: LocalCloud, user: User, path: str) -> None:
    """Finding 2: `/api/v1/videos/a%0Ab` got `404 text/plain` from the static mount. Sent raw, as the
    fuzzer sends it (httpx would re-encode the path)."""
    address = urlsplit(cloud.url)
    connection = http.client.HTTPConnection(address.hostname or "127.0.0.1", address.port, timeout=30)
    try:
        connection.request("GET", path, headers=user.headers)
        raw = connection.getresponse()
        response = httpx.Response(raw.status, headers=raw.getheaders(), content=raw.read())
    finally:
        connection.close()
    assert_error(response, 404, "not_found")


@pytest.mark.parametrize("field", ["title", "description", "tags", "visibility"])
def test_a_patch_with_null_is_422_and_changes_nothing(http: httpx.Client, user: User, field: str) -> None:
    """Found by the fuzzer's stateful phase: `{"title": null}` was stored as a null title, the PATCH answered
    500, and every later read of the video 500 too."""
    upload = {"filename": "a.mp4", "content_type": "video/mp4", "size_bytes": 10}
    created = http.post("/api/v1/videos", json={"title": "kept", "upload": upload}, headers=user.headers)
    assert created.status_code == 201, created.text
    video = created.json()["video"]
    assert_error(
        http.patch(f"/api/v1/videos/{video['id']}", json={field: None}, headers=user.headers),
        422,
        "validation_failed",
    )
    after = http.get(f"/api/v1/videos/{video['id']}", headers=user.headers)
    assert after.status_code == 200, after.text
    assert after.json() == video
