"""Secrets Manager adapters: the signing key set, the published JWKS and the usage-key salt, each parsed
once and cached per sandbox, re-read after a TTL (or on demand, rate-limited)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from functions.shared import aws
from functions.shared.dependency import dependency
from functions.shared.keyset import KeySet, parse_public_jwks

T = TypeVar("T")


class _CachedSecret(Generic[T]):
    """A secret parsed once and cached per sandbox, re-read after `ttl_s`."""

    REFRESH_MIN_INTERVAL_S = 1

    def __init__(
        self,
        secret_id: str,
        ttl_s: float = 300,
        clock: Callable[[], float] = time.monotonic,
        client: Callable[[], Any] = aws.secrets,
    ) -> None:
        self.secret_id = secret_id
        self.ttl_s = ttl_s
        self.clock = clock
        self._client = client
        self._cached: tuple[float, T] | None = None
        self._lock = threading.Lock()

    def _parse(self, text: str) -> T:
        raise NotImplementedError

    def _current(self) -> T:
        return self._no_older_than(self.ttl_s)

    def _refreshed(self) -> T:
        """Re-read now, unless the secret was read in the last few seconds: tokens with made-up key ids
        must not turn into a Secrets Manager call each."""
        return self._no_older_than(self.REFRESH_MIN_INTERVAL_S)

    def _no_older_than(self, max_age_s: float) -> T:
        with self._lock:
            if self._cached is None or self.clock() - self._cached[0] >= max_age_s:
                self._read()
            assert self._cached is not None
            return self._cached[1]

    def _read(self) -> None:
        with dependency("Secrets Manager"):
            text = self._client().get_secret_value(SecretId=self.secret_id)["SecretString"]
        self._cached = (self.clock(), self._parse(text))


class KeyStore(_CachedSecret[KeySet]):
    """The signing key set (private keys): for the function that issues tokens (port `SigningKeys`)."""

    def _parse(self, text: str) -> KeySet:
        return KeySet.from_json(text)

    def keyset(self) -> KeySet:
        return self._current()


class PublicKeyStore(_CachedSecret[dict[str, Any]]):
    """The published JWKS (public keys only) from its own secret: all a verifier needs, and all the
    authorizer may read (port `VerifyingKeys`). Written next to the key set wherever keys change."""

    def _parse(self, text: str) -> dict[str, Any]:
        return parse_public_jwks(text)

    def jwks(self) -> dict[str, Any]:
        return self._current()

    def refreshed_jwks(self) -> dict[str, Any]:
        return self._refreshed()


class UsageKeySalt(_CachedSecret[str]):
    """The secret each account's usage-plan key is derived with (functions/auth/usage.py)."""

    def _parse(self, text: str) -> str:
        return text

    def value(self) -> str:
        return self._current()
