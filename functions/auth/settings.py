"""The auth functions' typed environments: one model per function, its required fields exactly the
variables its grants in the topology give it (infra/topology.py; `Topology.environment_for`), so a
missing grant fails at the first invocation, never at a request. Tunables have defaults.
Constructed once per sandbox in functions/auth/wiring.py."""

from __future__ import annotations

from pydantic import Field, Json

from functions.shared.config import EnvironmentModel

ISSUER = "skyreel"
AUDIENCE = "skyreel-api"


class AuthSettings(EnvironmentModel):
    """The `auth` function (the API's auth routes): issues tokens, starts the registration saga."""

    table: str = Field(alias="AUTH_TABLE_NAME")
    signing_keys_secret: str = Field(alias="JWT_SIGNING_KEYS_SECRET_ID")
    registration_machine: str = Field(alias="REGISTRATION_STATE_MACHINE_ARN")
    issuer: str = Field(default=ISSUER, alias="TOKEN_ISSUER")
    audience: str = Field(default=AUDIENCE, alias="TOKEN_AUDIENCE")


class AuthorizerSettings(EnvironmentModel):
    """The `auth_authorizer` function: verifies with the public keys only, names each caller's usage key."""

    table: str = Field(alias="AUTH_TABLE_NAME")
    public_keys_secret: str = Field(alias="JWT_PUBLIC_KEYS_SECRET_ID")
    usage_key_salt_secret: str = Field(alias="USAGE_KEY_SALT_SECRET_ID")
    issuer: str = Field(default=ISSUER, alias="TOKEN_ISSUER")
    audience: str = Field(default=AUDIENCE, alias="TOKEN_AUDIENCE")
    # A revoked key or ended session can pass for up to this long in a warm sandbox: the same trade API
    # Gateway's own authorizer cache makes (its default TTL is 300 s). 0 turns the cache off.
    cache_ttl_s: float = Field(default=60, ge=0, alias="AUTHORIZER_CACHE_TTL_S")
    # Bounded: a flood of distinct credentials evicts the least recently used, it does not grow the sandbox.
    cache_max_entries: int = Field(default=10_000, ge=1, alias="AUTHORIZER_CACHE_MAX_ENTRIES")


class RegistrationSettings(EnvironmentModel):
    """The `auth_registration` function: the registration saga's steps."""

    table: str = Field(alias="AUTH_TABLE_NAME")
    analytics_table: str = Field(alias="ANALYTICS_TABLE_NAME")
    event_bus: str = Field(alias="EVENTS_EVENT_BUS_NAME")
    usage_key_salt_secret: str = Field(alias="USAGE_KEY_SALT_SECRET_ID")
    # {plan id: usage plan name}, the default first; `{}` where the API offers no usage plans.
    usage_plans: Json[dict[str, str]] = Field(alias="USAGE_PLANS")
