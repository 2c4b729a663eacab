"""The auth functions' typed environment (names come from the topology's grants), and their wiring."""

from __future__ import annotations

import functools

from pydantic import Field

from functions.auth.dal import AuthRepository, KeyStore
from functions.auth.logic import AuthService
from functions.shared.config import EnvironmentModel


class AuthSettings(EnvironmentModel):
    table: str = Field(alias="AUTH_TABLE_NAME")
    signing_keys_secret: str | None = Field(default=None, alias="JWT_SIGNING_KEYS_SECRET_ID")
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
