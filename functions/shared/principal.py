"""The caller (the authorizer's context, one definition for the authorizer and every handler), and the
scope each route needs."""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from functions.shared.errors import ForbiddenError, UnauthenticatedError
from functions.shared.plans import DEFAULT_PLAN


@dataclass(frozen=True)
class Caller:
    """Who is calling: what the authorizer builds and puts in the request context, and what every handler
    reads back from it. The one definition of the authorizer's context (`to_context`/`from_context`):
    API Gateway passes the context's values to the integration as strings, under these names."""

    user_id: str
    scopes: frozenset[str]
    auth_type: str  # "jwt" or "api_key"
    api_key_id: str | None = None
    plan: str = DEFAULT_PLAN  # the account's plan (functions/shared/plans.py)

    def to_context(self) -> dict[str, str]:
        """The authorizer's `context`: strings only (API Gateway refuses nested values)."""
        context = {
            "user_id": self.user_id,
            "scopes": " ".join(sorted(self.scopes)),
            "auth_type": self.auth_type,
            "plan": self.plan,
        }
        if self.api_key_id:
            context["api_key_id"] = self.api_key_id
        return context

    @classmethod
    def from_context(cls, context: Mapping[str, Any]) -> Caller:
        """Read the context back (API Gateway adds keys of its own, e.g. `principalId`: ignored). A
        protected route without a caller is a wiring bug: refused as unauthenticated."""
        user_id = context.get("user_id")
        if not user_id:
            raise UnauthenticatedError("No authenticated caller.")
        api_key_id = context.get("api_key_id")
        return cls(
            user_id=str(user_id),
            scopes=frozenset(str(context.get("scopes") or "").split()),
            auth_type=str(context.get("auth_type") or ""),
            api_key_id=str(api_key_id) if api_key_id else None,
            plan=str(context.get("plan") or DEFAULT_PLAN),
        )


def caller_from(request_context: Mapping[str, Any]) -> Caller:
    """The caller in a request's `requestContext`, as the authorizer left it there."""
    return Caller.from_context(request_context.get("authorizer") or {})


def caller_or_anonymous(request_context: Mapping[str, Any]) -> Caller | None:
    """On an `Auth.OPTIONAL` route: the caller, or None when the request came with no credentials (the
    authorizer then lets it through with no user in its context)."""
    context = request_context.get("authorizer") or {}
    return Caller.from_context(context) if context.get("user_id") else None


# --- route scopes: `Route.scope` from the topology, as ROUTE_SCOPES in the function's environment ------


def parse_route_scopes(raw: str) -> dict[tuple[str, str], str | None]:
    """`[[method, path template, scope or null], ...]` -> {(method, path template): scope}."""
    return {(str(m), str(p)): (None if s is None else str(s)) for m, p, s in json.loads(raw)}


@functools.cache
def route_scopes() -> dict[tuple[str, str], str | None] | None:
    """The protected routes this function serves and their scopes; None where the topology gave none."""
    raw = os.environ.get("ROUTE_SCOPES")
    return None if raw is None else parse_route_scopes(raw)


@functools.cache
def optional_routes() -> frozenset[tuple[str, str]]:
    """The `Auth.OPTIONAL` routes (method, path template) this function serves, as OPTIONAL_ROUTES says
    (the authorizer gets every one): an anonymous request may reach them."""
    raw = os.environ.get("OPTIONAL_ROUTES")
    return frozenset() if raw is None else frozenset((str(m), str(p)) for m, p in json.loads(raw))


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
    request_context = event.get("requestContext") or {}
    if route in optional_routes() and caller_or_anonymous(request_context) is None:
        return  # anonymous on an optional route: the handler decides what it may do
    caller = caller_from(request_context)
    needed = scopes[route]
    if needed is not None and needed not in caller.scopes:
        raise ForbiddenError(f"These credentials lack the {needed!r} scope this route needs.")
