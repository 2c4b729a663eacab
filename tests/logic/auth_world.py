"""The auth domain's use cases wired on fakes (tests/fakes/auth.py): what tests/logic/test_auth_*.py run on.

argon2 runs with cheap parameters here (the shipped ones cost ~150 ms a hash, on purpose), through the
hasher the service takes; the registration saga runs the shipped definition in-process, calling the real
step handler (functions/auth/registration.py) wired to the same fakes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import pytest
from argon2 import PasswordHasher

from functions.auth import registration, wiring
from functions.auth.logic import Authenticator, AuthService, RegistrationSteps
from functions.auth.models import RegistrationInput, TokenPair
from functions.auth.passwords import PasswordHashing
from functions.shared.keyset import KeySet, new_keyset
from tests.fakes.auth import (
    FakeAnalyticsProfiles,
    FakeApiKeys,
    FakeFailureCounters,
    FakeSessions,
    FakeSigningKeys,
    FakeUsageKeys,
    FakeUsers,
    InProcessRegistration,
)
from tests.fakes.shared import RecordingEvents

KEYS = new_keyset()  # RSA generation is slow: one set for the tier
ISS, AUD = "skyreel", "skyreel-api"
PASSWORD = "a long enough passphrase"
IP = "192.0.2.10"
CHEAP = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


class Clock:
    """The service's clock (epoch s), moved by hand."""

    def __init__(self) -> None:
        self.now = int(time.time())

    def __call__(self) -> int:
        return self.now

    def advance(self, seconds: int) -> None:
        self.now += seconds


class LambdaContext:
    function_name = "skyreel-auth-registration"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:skyreel-auth-registration"
    aws_request_id = "req-1"


@dataclass
class World:
    users: FakeUsers
    sessions: FakeSessions
    api_keys: FakeApiKeys
    failures: FakeFailureCounters
    keys: FakeSigningKeys
    analytics: FakeAnalyticsProfiles
    usage: FakeUsageKeys
    events: RecordingEvents
    workflow: InProcessRegistration
    clock: Clock
    hashing: PasswordHashing
    service: AuthService
    authenticator: Authenticator
    steps: RegistrationSteps
    accounts: dict[str, str] = field(default_factory=dict)  # email -> user id

    def register(self, email: str, password: str = PASSWORD) -> str:
        """An account made by the saga's first step directly (fast; registration itself is tested apart)."""
        user_id = f"user-{len(self.accounts) + 1}"
        self.users.put_pending_registration(
            RegistrationInput(
                user_id=user_id,
                email=email,
                password_hash=self.hashing.hash(password),
                created_at="2024-01-01T00:00:00.000Z",
            ),
            self.clock() + 600,
        )
        self.steps.create_user(user_id)
        self.users.delete_pending_registration(user_id)
        self.accounts[email] = user_id
        return user_id

    def login(self, email: str, password: str = PASSWORD, ip: str | None = IP) -> TokenPair:
        return self.service.login(email, password, ip)

    def everything_stored(self) -> Any:
        """Every fake's state, to compare before and after (a refused request changes nothing)."""
        return (
            dict(self.users.users),
            dict(self.users.email_locks),
            dict(self.users.profiles_by_user),
            dict(self.users.pending),
            dict(self.analytics.created),
            dict(self.usage.plan_of),
        )


def build_world(monkeypatch: pytest.MonkeyPatch, keys: KeySet = KEYS) -> World:
    users, sessions, api_keys = FakeUsers(), FakeSessions(), FakeApiKeys()
    failures, signing = FakeFailureCounters(), FakeSigningKeys(keys)
    analytics, usage, events = FakeAnalyticsProfiles(), FakeUsageKeys(), RecordingEvents()
    clock = Clock()
    hashing = PasswordHashing(CHEAP)
    steps = RegistrationSteps(users, analytics, events, usage)
    # The step handler's own wiring, pointed at these fakes: the saga runs the shipped entry point.
    monkeypatch.setattr(wiring, "registration_steps", lambda: steps)
    workflow = InProcessRegistration(lambda event: registration.lambda_handler(event, LambdaContext()))
    service = AuthService(
        users=users,
        sessions=sessions,
        api_keys=api_keys,
        failures=failures,
        keys=signing,
        workflow=workflow,
        issuer=ISS,
        audience=AUD,
        passwords=hashing,
        clock=clock,
        registration_wait_s=0.3,
    )
    authenticator = Authenticator(users, sessions, api_keys, signing, ISS, AUD, clock=clock)
    return World(
        users,
        sessions,
        api_keys,
        failures,
        signing,
        analytics,
        usage,
        events,
        workflow,
        clock,
        hashing,
        service,
        authenticator,
        steps,
    )
