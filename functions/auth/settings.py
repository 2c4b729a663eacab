"""The auth functions' typed environment (names come from the topology's grants), and their wiring."""

from __future__ import annotations

import functools
import json

from pydantic import Field

from functions.auth.dal import AuthRepository, KeyStore, PublicKeyStore, UsageKeys, UsageKeySalt
from functions.auth.logic import Authenticator, AuthService
from functions.shared.config import EnvironmentModel


class AuthSettings(EnvironmentModel):
    table: str = Field(alias="AUTH_TABLE_NAME")
    signing_keys_secret: str | None = Field(default=None, alias="JWT_SIGNING_KEYS_SECRET_ID")
    public_keys_secret: str | None = Field(default=None, alias="JWT_PUBLIC_KEYS_SECRET_ID")
    usage_key_salt_secret: str | None = Field(default=None, alias="USAGE_KEY_SALT_SECRET_ID")
    usage_plans_json: str = Field(default="{}", alias="USAGE_PLANS")  # {plan id: plan name}, default first
    issuer: str = Field(default="skyreel", alias="TOKEN_ISSUER")
    audience: str = Field(default="skyreel-api", alias="TOKEN_AUDIENCE")
    registration_machine: str | None = Field(default=None, alias="REGISTRATION_STATE_MACHINE_ARN")
    analytics_table: str | None = Field(default=None, alias="ANALYTICS_TABLE_NAME")
    event_bus: str | None = Field(default=None, alias="EVENTS_EVENT_BUS_NAME")


@functools.cache
def settings() -> AuthSettings:
    loaded = AuthSettings.from_environment()
    assert isinstance(loaded, AuthSettings)
    return loaded


@functools.cache
def service() -> AuthService:
    s = settings()
    if s.signing_keys_secret is None:
        raise RuntimeError("this function was not granted the signing keys (JWT_SIGNING_KEYS_SECRET_ID)")
    return AuthService(AuthRepository(s.table), KeyStore(s.signing_keys_secret), s.issuer, s.audience)


@functools.cache
def authenticator() -> Authenticator:
    """The authorizer's view: verifies tokens with the public keys only (it is never granted the private)."""
    s = settings()
    if s.public_keys_secret is None:
        raise RuntimeError("this function was not granted the public keys (JWT_PUBLIC_KEYS_SECRET_ID)")
    return Authenticator(AuthRepository(s.table), PublicKeyStore(s.public_keys_secret), s.issuer, s.audience)


@functools.cache
def usage_key_salt() -> UsageKeySalt | None:
    """The salt of per-account usage-plan keys; None where the API has no usage plans."""
    s = settings()
    return None if s.usage_key_salt_secret is None else UsageKeySalt(s.usage_key_salt_secret)


@functools.cache
def usage_keys() -> UsageKeys | None:
    """The registration saga's access to usage-plan keys; None where this function manages none."""
    salt = usage_key_salt()
    plans: dict[str, str] = json.loads(settings().usage_plans_json)
    return UsageKeys(plans, salt.value) if salt is not None and plans else None
