"""The API's REQUEST authorizer: a bearer JWT or an API key -> an IAM policy over the routes it may call.

The policy allows exactly the protected routes whose scope the caller holds, so API Gateway answers 403
for a wrong scope before any handler runs. Results are cached in the sandbox for CACHE_TTL_S, keyed by
a hash of the credential: API Gateway's own cache needs every identity source present, which a
"token OR key" API cannot promise (infra/model.py, Authorizer).
"""

from __future__ import annotations

import functools
import json
import os
import re
import threading
import time
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.auth import settings
from functions.auth.logic import Principal
from functions.auth.tokens import fingerprint
from functions.shared import origin
from functions.shared.errors import DependencyUnavailableError, UnauthenticatedError
from functions.shared.observability import logger

# A revoked key or ended session can pass for up to this long in a warm sandbox: the same trade API
# Gateway's own authorizer cache makes (its default TTL is 300 s).
CACHE_TTL_S = float(os.environ.get("AUTHORIZER_CACHE_TTL_S", "60"))
_cache: dict[str, tuple[float, Principal]] = {}
_lock = threading.Lock()


@functools.cache
def _route_scopes() -> list[tuple[str, str, str | None]]:
    """Each protected route and its scope, from the topology (ROUTE_SCOPES in this function's environment)."""
    return [(m, p, s) for m, p, s in json.loads(os.environ.get("ROUTE_SCOPES", "[]"))]


def _resource_pattern(path: str) -> str:
    """A route path as an execute-api resource: each `{param}` becomes `*`."""
    return re.sub(r"\{[^}]+\}", "*", path)


def policy_for(principal: Principal, method_arn: str) -> dict[str, Any]:
    arn_base = "/".join(method_arn.split("/", 2)[:2])  # arn:aws:execute-api:region:account:api-id/stage
    allowed = [
        f"{arn_base}/{method}{_resource_pattern(path)}"
        for method, path, scope in _route_scopes()
        if scope is None or scope in principal.scopes
    ]
    statement: dict[str, Any] = {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": allowed}
    if not allowed:
        statement = {"Action": "execute-api:Invoke", "Effect": "Deny", "Resource": method_arn}
    return {
        "principalId": principal.user_id,
        "context": principal.context(),
        "policyDocument": {"Version": "2012-10-17", "Statement": [statement]},
    }


def _cached_principal(credential: str) -> Principal | None:
    with _lock:
        hit = _cache.get(credential)
        if hit and time.monotonic() - hit[0] < CACHE_TTL_S:
            return hit[1]
        _cache.pop(credential, None)
        return None


@logger.inject_lambda_context(log_event=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    headers = event.get("headers") or {}
    if not origin.verified(headers):  # called on execute-api directly, not through the CDN: 403
        logger.warning("refused: no valid origin header")
        return origin.deny_policy(event["methodArn"])
    lowered = {k.lower(): v for k, v in headers.items()}
    credential = fingerprint(lowered.get("authorization", "") + "\n" + lowered.get("x-api-key", ""))
    principal = _cached_principal(credential)
    if principal is None:
        try:
            principal = settings.service().authenticate(headers)
        except UnauthenticatedError as exc:
            logger.info("refused", extra={"reason": exc.message})
            raise Exception("Unauthorized") from None
        except DependencyUnavailableError:
            logger.exception("authorizer dependency down")
            raise
        with _lock:
            _cache[credential] = (time.monotonic(), principal)
    return policy_for(principal, event["methodArn"])
