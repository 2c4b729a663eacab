"""A set of RSA signing keys with ids, stored as one JSON secret: the format every back end shares.

    {"active_kid": "k-...", "keys": [{"kid": "k-...", "private_key_pem": "...", "created_at": 1700000000,
                                      "retired_at": null}]}

Tokens are signed with the active key and name it in their `kid` header. Rotation adds a new key, makes
it active and stamps the old one `retired_at`; retired keys stay (and stay in the published JWKS) so the
tokens they signed verify until they expire. `pruned` drops a key only once it has been retired for
longer than any token it signed can live: age counts from retirement, not creation, so a late rotation
never drops a key that signed tokens a minute ago. The local cloud's provisioner, the CDK key generator and the
rotation command all go through this module, so the format has one definition.
"""

from __future__ import annotations

import base64
import functools
import json
import secrets
import time
from dataclasses import dataclass, replace
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


def _b64url_uint(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_key_pem: str
    created_at: int
    retired_at: int | None = None

    def private_key(self) -> rsa.RSAPrivateKey:
        return load_private_key(self.private_key_pem)

    def public_jwk(self) -> dict[str, str]:
        numbers = self.private_key().public_key().public_numbers()
        return {
            "kty": "RSA",
            "use": "sig",
            "alg": "RS256",
            "kid": self.kid,
            "n": _b64url_uint(numbers.n),
            "e": _b64url_uint(numbers.e),
        }


@dataclass(frozen=True)
class KeySet:
    active_kid: str
    keys: tuple[SigningKey, ...]

    @property
    def active(self) -> SigningKey:
        return self.key(self.active_kid)

    def key(self, kid: str) -> SigningKey:
        for key in self.keys:
            if key.kid == kid:
                return key
        raise KeyError(kid)

    def jwks(self) -> dict[str, Any]:
        """The public half of every key, as published at /.well-known/jwks.json."""
        return _jwks(self)

    def rotated(self, now: int | None = None) -> KeySet:
        """A new active key; the old ones remain for verification, the previous active one marked retired."""
        now = int(time.time()) if now is None else now
        key = new_signing_key(now)
        kept = tuple(replace(k, retired_at=now) if k.kid == self.active_kid else k for k in self.keys)
        return KeySet(key.kid, (*kept, key))

    def pruned(self, retired_for_s: int, now: int | None = None) -> KeySet:
        """Drop keys retired more than `retired_for_s` ago: pass more than any token's lifetime plus caching."""
        now = int(time.time()) if now is None else now
        kept = tuple(k for k in self.keys if k.retired_at is None or now - k.retired_at <= retired_for_s)
        return KeySet(self.active_kid, kept)

    def public_jwks_json(self) -> str:
        """What the public keys secret holds: the JWKS, with no private member (verifiers read only this)."""
        return json.dumps(self.jwks())

    def to_json(self) -> str:
        keys = [
            {
                "kid": k.kid,
                "private_key_pem": k.private_key_pem,
                "created_at": k.created_at,
                "retired_at": k.retired_at,
            }
            for k in self.keys
        ]
        return json.dumps({"active_kid": self.active_kid, "keys": keys})

    @classmethod
    def from_json(cls, text: str) -> KeySet:
        data = json.loads(text)
        keys = tuple(
            SigningKey(
                k["kid"],
                k["private_key_pem"],
                int(k["created_at"]),
                None if k.get("retired_at") is None else int(k["retired_at"]),
            )
            for k in data["keys"]
        )
        keyset = cls(data["active_kid"], keys)
        keyset.active  # noqa: B018 - refuse a set whose active key is missing, at load
        return keyset


_PRIVATE_JWK_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})


def parse_public_jwks(text: str) -> dict[str, Any]:
    """Read a JWKS of RSA public keys; refuse one carrying private key material (a wiring mistake)."""
    document = json.loads(text)
    keys = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(keys, list):
        raise ValueError("a JWKS needs a list of keys")
    for key in keys:
        if not isinstance(key, dict) or key.get("kty") != "RSA" or not key.get("kid"):
            raise ValueError("every key must be an RSA JWK with a kid")
        if _PRIVATE_JWK_MEMBERS & set(key):
            raise ValueError(f"key {key['kid']} carries private key material")
    return {"keys": keys}


@functools.lru_cache(maxsize=32)
def load_private_key(pem: str) -> rsa.RSAPrivateKey:
    """Parsing a PEM RSA key checks its consistency, which costs tens of milliseconds: do it once per key."""
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise TypeError("the key must be RSA")
    return key


@functools.lru_cache(maxsize=8)
def _jwks(keyset: KeySet) -> dict[str, Any]:
    return {"keys": [key.public_jwk() for key in keyset.keys]}


def new_signing_key(now: int | None = None) -> SigningKey:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return SigningKey(f"k-{secrets.token_hex(8)}", pem, int(time.time()) if now is None else now)


def new_keyset() -> KeySet:
    key = new_signing_key()
    return KeySet(key.kid, (key,))
