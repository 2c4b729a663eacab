"""The caller, as the API's authorizer put it in the request context."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from functions.shared.errors import UnauthenticatedError
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
