"""The one place the auth domain builds its adapters and use cases from settings, once per sandbox.

Each function validates its whole settings model on its first invocation (a missing grant fails there,
not at some request), and nothing else in the domain reads the environment.
"""

from __future__ import annotations

import functools

from functions.analytics.profiles import ProfileTable
from functions.auth.dal import ApiKeyTable, FailureCounterTable, SessionTable, UserTable
from functions.auth.keystores import KeyStore, PublicKeyStore, UsageKeySalt
from functions.auth.logic import AuthenticationCache, Authenticator, AuthService, RegistrationSteps
from functions.auth.settings import AuthorizerSettings, AuthSettings, RegistrationSettings
from functions.auth.usage_plans import UsageKeys
from functions.auth.workflow import StepFunctionsRegistration
from functions.shared.events import EventPublisher

# --- auth (the API's auth routes) -----------------------------------------------------------------


@functools.cache
def auth_settings() -> AuthSettings:
    return AuthSettings.from_environment()


@functools.cache
def service() -> AuthService:
    s = auth_settings()
    return AuthService(
        users=UserTable(s.table),
        sessions=SessionTable(s.table),
        api_keys=ApiKeyTable(s.table),
        failures=FailureCounterTable(s.table),
        keys=KeyStore(s.signing_keys_secret),
        workflow=StepFunctionsRegistration(s.registration_machine),
        issuer=s.issuer,
        audience=s.audience,
    )


# --- auth_authorizer --------------------------------------------------------------------------------


@functools.cache
def authorizer_settings() -> AuthorizerSettings:
    return AuthorizerSettings.from_environment()


@functools.cache
def authenticator() -> Authenticator:
    """Verifies tokens with the public keys only (the authorizer is never granted the private ones)."""
    s = authorizer_settings()
    return Authenticator(
        users=UserTable(s.table),
        sessions=SessionTable(s.table),
        api_keys=ApiKeyTable(s.table),
        verifying_keys=PublicKeyStore(s.public_keys_secret),
        issuer=s.issuer,
        audience=s.audience,
    )


@functools.cache
def authentication_cache() -> AuthenticationCache:
    s = authorizer_settings()
    return AuthenticationCache(ttl_s=s.cache_ttl_s, max_entries=s.cache_max_entries)


@functools.cache
def usage_key_salt() -> UsageKeySalt:
    return UsageKeySalt(authorizer_settings().usage_key_salt_secret)


# --- auth_registration ------------------------------------------------------------------------------


@functools.cache
def registration_settings() -> RegistrationSettings:
    return RegistrationSettings.from_environment()


@functools.cache
def registration_steps() -> RegistrationSteps:
    s = registration_settings()
    salt = UsageKeySalt(s.usage_key_salt_secret)
    return RegistrationSteps(
        users=UserTable(s.table),
        analytics=ProfileTable(s.analytics_table),
        events=EventPublisher(s.event_bus),
        usage=UsageKeys(s.usage_plans, salt.value) if s.usage_plans else None,
    )


def reset() -> None:
    """Forget every setting and everything built from them (tests that change the environment)."""
    for cached in (
        auth_settings,
        service,
        authorizer_settings,
        authenticator,
        authentication_cache,
        usage_key_salt,
        registration_settings,
        registration_steps,
    ):
        cached.cache_clear()
