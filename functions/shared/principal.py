"""The caller, as the API's authorizer put it in the request context, and the scope each route needs."""

from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass
from typing import Any

from functions.shared.errors import ForbiddenError, UnauthenticatedError
from functions.shared.plans import DEFAULT_PLAN


@dataclass(frozen=True)
class Caller:
    user_id: str
    scopes: frozenset[str]
    auth_type: str
    api_key_id: str | None = None
    plan: str = DEFAULT_PLAN  # the account's plan (functions/shared/plans.py), from the authorizer


def caller_from(request_context: dict[str, Any]) -> Caller:
    """Read the principal API Gateway passed through; a protected route without one is a wiring bug."""
    authorizer = request_context.get("authorizer") or {}
    user_id = authorizer.get("user_id")
    if not user_id:
        raise UnauthenticatedError("No authenticated caller.")
    return Caller(
        user_id=str(user_id),
        scopes=frozenset(str(authorizer.get("scopes", "")).split()),
        auth_type=str(authorizer.get("auth_type", "")),
        api_key_id=authorizer.get("api_key_id"),
        plan=str(authorizer.get("plan") or DEFAULT_PLAN),
    )


# --- route scopes: `Route.scope` from the topology, as ROUTE_SCOPES in the function's environment ------


def parse_route_scopes(raw: str) -> dict[tuple[str, str], str | None]:
    """`[[method, path template, scope or null], ...]` -> {(method, path template): scope}."""
    return {(str(m), str(p)): (None if s is None else str(s)) for m, p, s in json.loads(raw)}


@functools.cache
def route_scopes() -> dict[tuple[str, str], str | None] | None:
    """The protected routes this function serves and their scopes; None where the topology gave none."""
    raw = os.environ.get("ROUTE_SCOPES")
    return None if raw is None else parse_route_scopes(raw)


def enforce_route_scope(event: dict[str, Any]) -> None:
    """The second line behind the authorizer's policy: a protected route's scope, checked in the handler.

    `resource` is the route template API Gateway matched (`/api/v1/videos/{video_id}`), so the lookup is
    exact. Public routes are not in ROUTE_SCOPES and pass.
    """
    scopes = route_scopes()
    if scopes is None:
        return
    route = (str(event.get("httpMethod", "")), str(event.get("resource", "")))
    if route not in scopes:
        return
    caller = caller_from(event.get("requestContext") or {})
    needed = scopes[route]
    if needed is not None and needed not in caller.scopes:
        raise ForbiddenError(f"These credentials lack the {needed!r} scope this route needs.")
