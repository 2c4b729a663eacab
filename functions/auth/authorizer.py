"""The API's REQUEST authorizer: a bearer JWT or an API key -> an IAM policy over the routes it may call.

The policy (functions/auth/policy.py) allows exactly the protected routes whose scope the caller holds,
so API Gateway answers 403 for a wrong scope before any handler runs. Results are cached in the sandbox,
keyed by a hash of the credential (functions/auth/logic.py, AuthenticationCache). The context it hands
every handler is `Caller.to_context()` (functions/shared/principal.py), read back by `caller_from`.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.auth import wiring
from functions.auth.policy import policy_document
from functions.auth.settings import AuthorizerSettings
from functions.auth.tokens import fingerprint
from functions.auth.usage import usage_key
from functions.shared import origin
from functions.shared.errors import DependencyUnavailableError, UnauthenticatedError
from functions.shared.observability import logger
from functions.shared.principal import Caller, optional_routes, route_scopes

Settings = AuthorizerSettings


def policy_for(caller: Caller, event: dict[str, Any]) -> dict[str, Any]:
    document = policy_document(
        route_scopes() or {},
        caller.scopes,
        event["methodArn"],
        str(event.get("httpMethod", "")),
        str(event.get("resource", "")),
    )
    return {
        "principalId": caller.user_id,
        "context": caller.to_context(),
        "policyDocument": document,
        # Metered per account, whichever credential it used (functions/auth/usage.py).
        "usageIdentifierKey": usage_key(wiring.usage_key_salt().value(), caller.user_id),
    }


def anonymous_policy(method_arn: str) -> dict[str, Any]:
    """This request only, with no user in the context (the handler sees an anonymous caller) and no usage
    key (optional routes are not metered: infra/model.py `Auth.OPTIONAL`)."""
    statement = {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": [method_arn]}
    return {
        "principalId": "anonymous",
        "context": {"anonymous": "true"},
        "policyDocument": {"Version": "2012-10-17", "Statement": [statement]},
    }


@logger.inject_lambda_context(log_event=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    wiring.authorizer_settings()  # the whole environment, checked on the sandbox's first invocation
    headers = event.get("headers") or {}
    if not origin.verified(headers):  # called on execute-api directly, not through the CDN: 403
        logger.warning("refused: no valid origin header")
        return origin.deny_policy(event["methodArn"])
    lowered = {k.lower(): v for k, v in headers.items()}
    if not lowered.get("authorization") and not lowered.get("x-api-key"):
        route = (str(event.get("httpMethod", "")), str(event.get("resource", "")))
        if route in optional_routes():  # Auth.OPTIONAL: no credentials at all reach the handler anonymous
            return anonymous_policy(event["methodArn"])
    credential = fingerprint(lowered.get("authorization", "") + "\n" + lowered.get("x-api-key", ""))
    cache = wiring.authentication_cache()
    result = cache.get(credential)
    if result is None:
        try:
            result = wiring.authenticator().authenticate(headers)
        except UnauthenticatedError as exc:
            logger.info("refused", extra={"reason": exc.message})
            raise Exception("Unauthorized") from None
        except DependencyUnavailableError:
            logger.exception("authorizer dependency down")
            raise
        cache.put(credential, result)
    return policy_for(result.caller, event)
