"""What a route documents in the OpenAPI document, written once for every domain (issue 9 item 6, issue 15).

A route's decorator takes `responses=documented(...)` and, if protected, `security=PROTECTED`. `documented`
adds what every route can answer besides its own success and errors, so the document lists exactly the
statuses the stack can return, each error in the one error shape the mapper (functions/shared/api.py) and
the gateway responses (infra/model.py) write:

- every route: 422 (a parameter or body failed validation), 429 (the stage throttle), 500/502/503/504;
- a route with a body: 400 (not JSON, or not UTF-8), 413 (over API Gateway's limit), 415 (not JSON);
- a route with a path parameter: 404;
- a protected route: 401 (no or bad credentials) and 403 (a scope it lacks, or no usage plan).

The schemas come from the same pydantic models the handlers validate with and return.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

BEARER = "bearerAuth"
API_KEY = "apiKeyAuth"

# Either credential opens a protected route (the authorizer takes a bearer token or an API key).
PROTECTED: list[dict[str, list[str]]] = [{BEARER: []}, {API_KEY: []}]
# An `Auth.OPTIONAL` route: signed in, or anonymous (`{}`: no credentials at all).
OPTIONAL: list[dict[str, list[str]]] = [{}, {BEARER: []}, {API_KEY: []}]

SECURITY_SCHEMES: dict[str, dict[str, Any]] = {
    BEARER: {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "An access token from `POST /api/v1/auth/login` (15 minutes; refresh it).",
    },
    API_KEY: {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": "A key from `POST /api/v1/auth/api-keys`; it carries the scopes it was made with.",
    },
}


class ErrorDetail(BaseModel):
    location: str = Field(description="Where: `body.title`, `query.limit`, ...")
    message: str
    type: str = Field(description="A machine-readable kind: `string_too_short`, `missing`, ...")


class ErrorInfo(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"code": "not_found", "message": "No video abc."}]}
    )
    code: str = Field(
        description="Stable, machine-readable: `validation_failed`, `not_found`, `throttled`, ..."
    )
    message: str = Field(description="For people; may change")
    details: list[ErrorDetail | dict[str, Any]] = Field(description="Per-field problems, else empty")


class ErrorBody(BaseModel):
    """Every error the API answers, whoever answers it (a function, the authorizer, the gateway)."""

    error: ErrorInfo


_COMMON = {
    422: "The request did not pass validation (`validation_failed`); `details` names each field",
    429: "Too many requests (`throttled`, `quota_exceeded`); `Retry-After` says when to retry",
    500: "A failure on our side (`internal_error`); it has been logged",
    502: "The function failed to answer (`bad_gateway`)",
    503: "A service we depend on did not answer (`dependency_unavailable`); retry shortly",
    504: "The function did not answer in time (`gateway_timeout`)",
}
_BODY = {
    400: "The body is not JSON, or not UTF-8 text (`malformed_request`)",
    413: "The request body is over 10 MB (`payload_too_large`)",
    415: "The body was not sent as `application/json` (`unsupported_media_type`)",
}
_PATH = {404: "No such resource, or not yours (`not_found`)"}
_PROTECTED = {
    401: "Missing or invalid credentials (`unauthenticated`)",
    403: "These credentials lack the route's scope, or the account has no usage plan (`forbidden`)",
}


def error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"model": ErrorBody}}}


def documented(
    status: int,
    model: type[BaseModel] | None,
    description: str,
    *,
    errors: dict[int, str] | None = None,
    body: bool = False,
    path: bool = False,
    protected: bool = False,
    also: dict[int, tuple[type[BaseModel] | None, str]] | None = None,
    links: dict[str, dict[str, Any]] | None = None,
) -> dict[int, Any]:
    """The `responses=` of a route: its success (`model` None: no body, as a 204), the errors every route
    of its kind can answer, and its own `errors` (status -> when), which win over the common wording.
    `also` adds other successes; `links` (see `link`) say which operations take what the success returned."""
    statuses: dict[int, str] = {**_COMMON}
    if body:
        statuses.update(_BODY)
    if path:
        statuses.update(_PATH)
    if protected:
        statuses.update(_PROTECTED)
    statuses.update(errors or {})
    responses: dict[int, Any] = {code: error(text) for code, text in sorted(statuses.items())}
    for code, (out, text) in {status: (model, description), **(also or {})}.items():
        responses[code] = (
            {"description": text, "content": {"application/json": {"model": out}}}
            if out is not None
            else {"description": text, "content": {}}
        )
    if links:
        responses[status]["links"] = links
    return dict(sorted(responses.items()))


def link(operation_id: str, description: str, **parameters: str) -> dict[str, Any]:
    """An OpenAPI link: `operation_id` takes `parameters` (name -> a runtime expression such as
    `$response.body#/video/id`). Clients, and schemathesis's stateful phase, follow it."""
    return {"operationId": operation_id, "parameters": parameters, "description": description}
