"""The API's REQUEST authorizer: a bearer JWT or an API key -> an IAM policy over the routes it may call.

The policy (functions/auth/policy.py) allows exactly the protected routes whose scope the caller holds,
so API Gateway answers 403 for a wrong scope before any handler runs. Results are cached in the sandbox,
keyed by a hash of the credential: API Gateway's own cache needs every identity source present, which a
"token OR key" API cannot promise (infra/model.py, Authorizer).
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from cachetools import TLRUCache

from functions.auth import settings
from functions.auth.logic import Principal
from functions.auth.policy import policy_document
from functions.auth.tokens import fingerprint
from functions.auth.usage import usage_key
from functions.shared import origin
from functions.shared.errors import DependencyUnavailableError, UnauthenticatedError
from functions.shared.observability import logger
from functions.shared.principal import route_scopes

# A revoked key or ended session can pass for up to this long in a warm sandbox: the same trade API
# Gateway's own authorizer cache makes (its default TTL is 300 s). A token is never cached past its `exp`.
CACHE_TTL_S = float(os.environ.get("AUTHORIZER_CACHE_TTL_S", "60"))
# Bounded: a flood of distinct credentials evicts the least recently used, it does not grow the sandbox.
CACHE_MAX_ENTRIES = int(os.environ.get("AUTHORIZER_CACHE_MAX_ENTRIES", "10000"))


def _clock() -> float:
    return time.time()  # wall clock: a token's `exp` is epoch seconds


def _expires(_credential: str, principal: Principal, now: float) -> float:
    """Cache until min(now + ttl, the token's exp); TLRUCache drops the entry at that time."""
    until = now + CACHE_TTL_S
    return until if principal.expires_at is None else min(until, float(principal.expires_at))


_cache: TLRUCache[str, Principal] = TLRUCache(maxsize=CACHE_MAX_ENTRIES, ttu=_expires, timer=_clock)
_lock = threading.Lock()  # cachetools caches are not thread-safe


def policy_for(principal: Principal, event: dict[str, Any]) -> dict[str, Any]:
    document = policy_document(
        route_scopes() or {},
        principal.scopes,
        event["methodArn"],
        str(event.get("httpMethod", "")),
        str(event.get("resource", "")),
    )
    response = {"principalId": principal.user_id, "context": principal.context(), "policyDocument": document}
    salt = settings.usage_key_salt()
    if salt is not None:  # metered per account, whichever credential it used (functions/auth/usage.py)
        response["usageIdentifierKey"] = usage_key(salt.value(), principal.user_id)
    return response


def _cached_principal(credential: str) -> Principal | None:
    with _lock:
        return _cache.get(credential)


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
            principal = settings.authenticator().authenticate(headers)
        except UnauthenticatedError as exc:
            logger.info("refused", extra={"reason": exc.message})
            raise Exception("Unauthorized") from None
        except DependencyUnavailableError:
            logger.exception("authorizer dependency down")
            raise
        if CACHE_TTL_S > 0:
            with _lock:
                _cache[credential] = principal
    return policy_for(principal, event)
