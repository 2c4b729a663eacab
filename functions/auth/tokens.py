"""Access tokens (RS256 JWTs with a `kid`) and opaque refresh tokens. Pure: keys come in as arguments."""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jwt

from functions.shared.errors import UnauthenticatedError
from functions.shared.keyset import KeySet
from functions.shared.vocabulary import USER_SCOPES

ALGORITHM = "RS256"  # the only one we accept: a token naming any other (including "none") is refused
ACCESS_TOKEN_TTL_S = 15 * 60
REFRESH_TOKEN_TTL_S = 30 * 24 * 3600
DEFAULT_PLAN = "free"


@dataclass(frozen=True)
class AccessClaims:
    user_id: str
    session_id: str
    scopes: tuple[str, ...]
    expires_at: int
    plan: str = DEFAULT_PLAN


def issue_access_token(
    keys: KeySet,
    *,
    issuer: str,
    audience: str,
    user_id: str,
    session_id: str,
    plan: str = DEFAULT_PLAN,
    now: int | None = None,
) -> str:
    now = int(time.time()) if now is None else now
    claims = {
        "iss": issuer,
        "aud": audience,
        "sub": user_id,
        "sid": session_id,
        "iat": now,
        "nbf": now,
        "exp": now + ACCESS_TOKEN_TTL_S,
        "jti": uuid.uuid4().hex,
        "scope": " ".join(USER_SCOPES),
        "plan": plan,  # the account's plan when the token was issued (handlers look up its quotas)
    }
    key = keys.active
    return jwt.encode(claims, key.private_key(), algorithm=ALGORITHM, headers={"kid": key.kid})


class UnknownSigningKeyError(UnauthenticatedError):
    """Signed by a key id the given set does not have: possibly one rotated in since the set was read."""


def verify_access_token(token: str, jwks: Mapping[str, Any], *, issuer: str, audience: str) -> AccessClaims:
    """Verify against the published key set; raise UnauthenticatedError saying why not."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise UnauthenticatedError("The access token is malformed.") from None
    if header.get("alg") != ALGORITHM:
        raise UnauthenticatedError("The access token's algorithm is not accepted.")
    key = next((k for k in jwks.get("keys", []) if k.get("kid") == header.get("kid")), None)
    if key is None:
        raise UnknownSigningKeyError("The access token was signed by an unknown key.")
    try:
        claims = jwt.decode(
            token,
            jwt.PyJWK.from_dict(key).key,
            algorithms=[ALGORITHM],
            audience=audience,
            issuer=issuer,
            options={"require": ["exp", "iat", "sub", "sid", "iss", "aud"]},
        )
    except jwt.ExpiredSignatureError:
        raise UnauthenticatedError("The access token has expired.") from None
    except jwt.PyJWTError as exc:
        raise UnauthenticatedError(f"The access token is not valid: {exc}.") from None
    return AccessClaims(
        str(claims["sub"]),
        str(claims["sid"]),
        tuple(str(claims.get("scope", "")).split()),
        int(claims["exp"]),
        str(claims.get("plan") or DEFAULT_PLAN),
    )


def new_refresh_token() -> str:
    return "rt_" + secrets.token_urlsafe(32)


def fingerprint(secret: str) -> str:
    """How an opaque credential is stored and looked up: its SHA-256, never the value itself.

    A fast hash is right here (unlike passwords): the secrets are 256-bit random, so there is nothing
    for a slow hash to protect against guessing.
    """
    return hashlib.sha256(secret.encode()).hexdigest()
