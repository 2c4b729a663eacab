"""The ports auth's logic depends on. Adapters: functions/auth/dal.py (the auth table), keystores.py
(Secrets Manager), usage_plans.py (API Gateway), workflow.py (Step Functions), functions/analytics/
profiles.py (the analytics domain's table), functions/shared/events.py (EventBridge). Fakes:
tests/fakes/auth.py; tests/contract/test_auth_ports.py holds each fake to its adapter."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Protocol

from functions.auth.models import (
    ApiKeyRecord,
    ProfileRecord,
    RefreshRecord,
    RegistrationInput,
    SessionRecord,
    UserRecord,
    WorkflowOutcome,
)
from functions.auth.throttle import FailureCounter
from functions.shared.events import Events
from functions.shared.keyset import KeySet

__all__ = [
    "AnalyticsProfiles",
    "ApiKeys",
    "Events",
    "FailureCounters",
    "RegistrationWorkflow",
    "Sessions",
    "SigningKeys",
    "UsageKeys",
    "Users",
    "VerifyingKeys",
]


class Users(Protocol):
    """Accounts: users and their email locks, profiles, pending registrations."""

    def create_user(self, user: UserRecord) -> bool:
        """Store the user and lock its email, atomically; False (and nothing stored) if the email is
        locked by another user. Idempotent for the same user."""
        ...

    def delete_user(self, user_id: str, email: str) -> None:
        """Idempotent; the email lock goes only if it points at this user."""
        ...

    def get_user(self, user_id: str) -> UserRecord | None: ...

    def find_user_by_email(self, email: str) -> UserRecord | None: ...

    def set_password_hash(self, user_id: str, password_hash: str) -> None: ...

    def put_profile(self, profile: ProfileRecord) -> None: ...

    def get_profile(self, user_id: str) -> ProfileRecord | None: ...

    def delete_profile(self, user_id: str) -> None: ...

    def profiles(self) -> Iterator[ProfileRecord]:
        """Every profile (maintenance only: a full scan)."""
        ...

    def put_pending_registration(self, registration: RegistrationInput, expires_at: int) -> None: ...

    def get_pending_registration(self, user_id: str) -> RegistrationInput | None: ...

    def delete_pending_registration(self, user_id: str) -> None: ...


class Sessions(Protocol):
    def create_session(self, session: SessionRecord, first_token: RefreshRecord) -> None: ...

    def get_session(self, session_id: str) -> SessionRecord | None: ...

    def revoke_session(self, session_id: str) -> None:
        """Idempotent; an unknown session is left unknown."""
        ...

    def get_refresh_token(self, fingerprint: str) -> RefreshRecord | None: ...

    def rotate_refresh_token(self, used: RefreshRecord, replacement: RefreshRecord) -> bool:
        """Mark `used` spent and store `replacement`, atomically; False (nothing changed) if `used` was
        already spent."""
        ...


class ApiKeys(Protocol):
    def create_api_key(self, record: ApiKeyRecord) -> None: ...

    def api_keys_of(self, user_id: str) -> list[ApiKeyRecord]:
        """Every key of the user, revoked ones included, in no particular order."""
        ...

    def get_api_key(self, user_id: str, key_id: str) -> ApiKeyRecord | None: ...

    def find_api_key(self, fingerprint: str) -> ApiKeyRecord | None: ...

    def revoke_api_key(self, record: ApiKeyRecord, revoked_at: str) -> None: ...

    def touch_api_key(self, record: ApiKeyRecord, used_at: str, not_since: str) -> None:
        """Set the key's `last_used_at` to `used_at` unless it is already `not_since` or later."""
        ...


class FailureCounters(Protocol):
    """Failed-sign-in counters, changed only by compare-and-set on what was read."""

    def failure_counter(self, subject: str) -> FailureCounter | None:
        """As stored, expired or not."""
        ...

    def take_failure_slot(self, subject: str, seen: FailureCounter | None, now: int, expires_at: int) -> bool:
        """One more failure if the counter still holds `seen` (None: absent or expired at `now`); False if
        it changed since it was read."""
        ...

    def restart_lock(self, subject: str, now: int) -> None:
        """Move the last failure to `now` if the counter exists and it is earlier."""
        ...

    def release_failure_slot(self, subject: str) -> None:
        """One failure fewer; the counter goes with its last one."""
        ...

    def clear_failures(self, subject: str) -> None: ...


class SigningKeys(Protocol):
    """The private key set that signs access tokens (cached)."""

    def keyset(self) -> KeySet: ...


class VerifyingKeys(Protocol):
    """The published JWKS: `jwks()` may be cached, `refreshed_jwks()` re-reads (rate-limited)."""

    def jwks(self) -> Mapping[str, Any]: ...

    def refreshed_jwks(self) -> Mapping[str, Any]: ...


class UsageKeys(Protocol):
    """Each account's metering key on a usage plan. Idempotent: saga steps are retried."""

    def plan_ids(self) -> list[str]:
        """The usage plans on offer, the default (new accounts') first."""
        ...

    def ensure(self, user_id: str, plan: str) -> None:
        """The account's key exists and is on `plan`."""
        ...

    def remove(self, user_id: str) -> None: ...


class AnalyticsProfiles(Protocol):
    """The analytics domain's per-user record (adapter: functions/analytics/profiles.py)."""

    def create(self, user_id: str, created_at: str) -> None: ...

    def delete(self, user_id: str) -> None: ...


class RegistrationWorkflow(Protocol):
    """The registration saga's state machine."""

    def start(self, user_id: str) -> str:
        """Start the saga for a pending registration; returns the execution's id."""
        ...

    def outcome(self, execution: str) -> WorkflowOutcome | None:
        """How the execution ended; None while it runs."""
        ...
