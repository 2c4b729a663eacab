"""The handlers' second line behind the authorizer: a protected route's scope, checked again in the
shared resolver from the same ROUTE_SCOPES data the authorizer's policy is built from."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Annotated, Any

import pytest
from aws_lambda_powertools.event_handler.openapi.params import Body
from pydantic import BaseModel, Field

from functions.shared.api import create_resolver
from functions.shared.principal import caller_or_anonymous, optional_routes, route_scopes
from infra.model import Auth
from infra.topology import TOPOLOGY

app = create_resolver()


@app.get("/api/v1/videos/<video_id>/upload")
def upload_urls(video_id: str) -> dict[str, str]:
    return {"video_id": video_id}


@app.get("/api/v1/public")
def public() -> dict[str, str]:
    return {"ok": "yes"}


class Rename(BaseModel):
    title: str = Field(min_length=1)


@app.patch("/api/v1/videos/<video_id>")
def rename(video_id: str, body: Annotated[Rename, Body()]) -> dict[str, str]:
    return {"video_id": video_id, "title": body.title}


@app.post("/api/v1/videos/<video_id>/views")
def beacon(video_id: str) -> dict[str, str]:
    caller = caller_or_anonymous(app.current_event.request_context.raw_event)
    return {"video_id": video_id, "caller": caller.user_id if caller else "anonymous"}


ROUTES = [
    ["GET", "/api/v1/videos/{video_id}/upload", "videos:write"],
    ["PATCH", "/api/v1/videos/{video_id}", "videos:write"],
    ["POST", "/api/v1/videos/{video_id}/views", "videos:read"],
]
OPTIONAL = [["POST", "/api/v1/videos/{video_id}/views"]]


@pytest.fixture(autouse=True)
def _scopes(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("ROUTE_SCOPES", json.dumps(ROUTES))
    monkeypatch.setenv("OPTIONAL_ROUTES", json.dumps(OPTIONAL))
    route_scopes.cache_clear()
    optional_routes.cache_clear()
    yield
    route_scopes.cache_clear()
    optional_routes.cache_clear()


def call(
    resource: str, path: str, authorizer: dict[str, Any] | None, method: str = "GET", body: str | None = None
) -> tuple[int, dict[str, Any]]:
    event = {
        "httpMethod": method,
        "path": path,
        "resource": resource,
        "headers": {"Content-Type": "application/json"} if body else {},
        "requestContext": {"requestId": "r", "stage": "local", "authorizer": authorizer},
        "queryStringParameters": None,
        "body": body,
        "isBase64Encoded": False,
    }
    result = app.resolve(event, None)  # type: ignore[arg-type]
    return result["statusCode"], json.loads(result["body"])


def test_a_caller_without_the_routes_scope_is_refused_by_the_handler() -> None:
    """Even if a policy let the request through, the handler refuses a read key on a write route."""
    status, body = call(
        "/api/v1/videos/{video_id}/upload",
        "/api/v1/videos/v1/upload",
        {"user_id": "u1", "scopes": "videos:read", "auth_type": "api_key"},
    )
    assert status == 403
    assert body["error"]["code"] == "forbidden"
    assert "videos:write" in body["error"]["message"]


def test_a_caller_with_the_scope_passes_and_public_routes_are_not_checked() -> None:
    writer = {"user_id": "u1", "scopes": "videos:read videos:write", "auth_type": "jwt"}
    assert call("/api/v1/videos/{video_id}/upload", "/api/v1/videos/v1/upload", writer) == (
        200,
        {"video_id": "v1"},
    )
    assert call("/api/v1/public", "/api/v1/public", None)[0] == 200


def test_a_protected_route_without_a_caller_is_401() -> None:
    assert call("/api/v1/videos/{video_id}/upload", "/api/v1/videos/v1/upload", None)[0] == 401


def test_every_function_serving_protected_routes_gets_their_scopes() -> None:
    """The topology hands each handler its own routes' scopes (optional routes' too: a signed-in caller of
    one needs its scope): the same data as the authorizer's."""
    for fn in TOPOLOGY.functions:
        protected = {
            (r.method, r.path): r.scope for r in TOPOLOGY.routes_of(fn.id) if r.auth is not Auth.PUBLIC
        }
        env = TOPOLOGY.environment_for(fn, _Names())
        if fn.id == "auth_authorizer":
            continue
        if protected:
            given = {(m, p): s for m, p, s in json.loads(env["ROUTE_SCOPES"])}
            assert given == protected, fn.id
        else:
            assert "ROUTE_SCOPES" not in env, fn.id


class _Names:
    stage = "test"

    def __getattr__(self, name: str) -> Any:
        return lambda *args: f"{name}:{args}"


def test_a_caller_without_the_scope_learns_nothing_from_body_validation() -> None:
    """powertools validates the body before middleware runs: the scope is checked there too, so a read key
    sending a bad body to a write route gets 403, not the 422 that would describe the route's schema."""
    reader = {"user_id": "u1", "scopes": "videos:read", "auth_type": "api_key"}
    status, body = call("/api/v1/videos/{video_id}", "/api/v1/videos/v1", reader, "PATCH", '{"title": ""}')
    assert (status, body["error"]["code"]) == (403, "forbidden")
    writer = {**reader, "scopes": "videos:write"}
    assert call("/api/v1/videos/{video_id}", "/api/v1/videos/v1", writer, "PATCH", '{"title": ""}')[0] == 422


def test_an_optional_route_lets_an_anonymous_request_through_and_checks_a_callers_scope() -> None:
    """Auth.OPTIONAL: the authorizer passes a request without credentials with no user in its context; the
    handler sees no caller. A caller who did sign in still needs the route's scope."""
    views = ("/api/v1/videos/{video_id}/views", "/api/v1/videos/v1/views")
    assert call(*views, {"principalId": "anonymous", "anonymous": "true"}, method="POST") == (
        200,
        {"video_id": "v1", "caller": "anonymous"},
    )
    reader = {"user_id": "u1", "scopes": "videos:read", "auth_type": "api_key"}
    assert call(*views, reader, method="POST") == (200, {"video_id": "v1", "caller": "u1"})
    searcher = {"user_id": "u1", "scopes": "search", "auth_type": "api_key"}
    assert call(*views, searcher, method="POST")[0] == 403
    # The same missing caller on a protected route is still refused.
    assert (
        call("/api/v1/videos/{video_id}/upload", "/api/v1/videos/v1/upload", {"anonymous": "true"})[0] == 401
    )
