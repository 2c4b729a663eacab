"""The API answers only requests that came through the CDN.

CloudFront adds a secret header (`X-Origin-Verify`) to every request it sends the API origin; a request
to the execute-api endpoint directly does not have it, so none of the headers the CDN sets (the viewer's
host and address) can be forged by skipping the CDN. Every API function checks it (the resolver, for
public routes too) and so does the authorizer, in constant time. The value is a Secrets Manager secret
named by ORIGIN_SECRET_ID (the topology's `Api.origin_secret`), read once per sandbox.

A function without ORIGIN_SECRET_ID is not behind the CDN (a unit test, an API declared without an
origin secret) and checks nothing; the topology gives it to every API function when the API declares one.
"""

from __future__ import annotations

import functools
import hmac
import os
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from functions.shared import aws
from functions.shared.errors import DependencyUnavailableError

HEADER = "X-Origin-Verify"
SECRET_ID_ENV = "ORIGIN_SECRET_ID"  # noqa: S105 - the variable naming the secret


@functools.cache  # failures raise, so they are not cached: the next request tries again
def _expected(secret_id: str) -> bytes:
    try:
        value: str = aws.secrets().get_secret_value(SecretId=secret_id)["SecretString"]
    except (ClientError, BotoCoreError) as exc:
        raise DependencyUnavailableError("Could not read the origin secret.") from exc
    return value.encode()


def verified(headers: Mapping[str, Any] | None) -> bool:
    """True when the request carries the CDN's origin secret (or this function is not behind the CDN)."""
    secret_id = os.environ.get(SECRET_ID_ENV)
    if not secret_id:
        return True
    wanted = HEADER.lower()
    sent = next((str(v) for k, v in (headers or {}).items() if k.lower() == wanted), "")
    return hmac.compare_digest(sent.encode(), _expected(secret_id))


def deny_policy(method_arn: str) -> dict[str, Any]:
    """The authorizer's answer to a request that skipped the CDN: API Gateway turns it into a 403."""
    return {
        "principalId": "unverified-origin",
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": "Deny", "Resource": method_arn}],
        },
    }
