"""Each account's usage-plan key: the API Gateway API key its requests are metered under.

The authorizer names it as `usageIdentifierKey` (the API's key source is AUTHORIZER), so signed-in users
and API keys alike are metered per account, and no client can present a key of its own. The value is
derived, HMAC-SHA256 of the user id under a secret salt, so the authorizer computes it with no lookup and
nobody can work one out from a user id. The registration saga creates the key and attaches it to the
default plan (and removes it when it compensates). Pure: the salt comes in as an argument.
"""

from __future__ import annotations

import hashlib
import hmac


def usage_key(salt: str, user_id: str) -> str:
    """The API key value for an account: 64 hex characters (API Gateway takes 20 to 128)."""
    return hmac.new(salt.encode(), f"usage-key:{user_id}".encode(), hashlib.sha256).hexdigest()


def usage_key_name(user_id: str) -> str:
    """The API key's name: how the saga finds it again to retry or undo."""
    return f"account-{user_id}"
