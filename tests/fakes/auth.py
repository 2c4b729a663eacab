"""In-memory fakes of the auth domain's ports (functions/auth/ports.py). tests/contract/test_auth_ports.py
runs the same assertions on each fake and its adapter, so a fake cannot drift from what it stands for.
Every fake takes a lock around its state: the real stores apply each write atomically, and the logic's
compare-and-set paths (failure slots, refresh rotation) are tested with threads."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

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
from functions.shared.keyset import KeySet

REGISTRATION_ASL = Path(__file__).resolve().parents[2] / "infra/workflows/registration.asl.json"


class FakeUsers:
    def __init__(self) -> None:
        self.users: dict[str, UserRecord] = {}
        self.email_locks: dict[str, str] = {}  # email -> user id
        self.profiles_by_user: dict[str, ProfileRecord] = {}
        self.pending: dict[str, tuple[RegistrationInput, int]] = {}  # user id -> (registration, expires_at)
        self._lock = threading.Lock()

    def create_user(self, user: UserRecord) -> bool:
        with self._lock:
            if self.email_locks.get(user.email, user.id) != user.id:
                return False
            self.email_locks[user.email] = user.id
            self.users[user.id] = user.model_copy()
            return True

    def delete_user(self, user_id: str, email: str) -> None:
        with self._lock:
            self.users.pop(user_id, None)
            if self.email_locks.get(email) == user_id:
                del self.email_locks[email]

    def get_user(self, user_id: str) -> UserRecord | None:
        user = self.users.get(user_id)
        return user.model_copy() if user else None

    def find_user_by_email(self, email: str) -> UserRecord | None:
        user_id = self.email_locks.get(email)
        return None if user_id is None else self.get_user(user_id)

    def set_password_hash(self, user_id: str, password_hash: str) -> None:
        with self._lock:
            self.users[user_id] = self.users[user_id].model_copy(update={"password_hash": password_hash})

    def put_profile(self, profile: ProfileRecord) -> None:
        self.profiles_by_user[profile.user_id] = profile.model_copy()

    def get_profile(self, user_id: str) -> ProfileRecord | None:
        profile = self.profiles_by_user.get(user_id)
        return profile.model_copy() if profile else None

    def delete_profile(self, user_id: str) -> None:
        self.profiles_by_user.pop(user_id, None)

    def profiles(self) -> Iterator[ProfileRecord]:
        yield from (p.model_copy() for p in list(self.profiles_by_user.values()))

    def put_pending_registration(self, registration: RegistrationInput, expires_at: int) -> None:
        self.pending[registration.user_id] = (registration.model_copy(), expires_at)

    def get_pending_registration(self, user_id: str) -> RegistrationInput | None:
        found = self.pending.get(user_id)
        return found[0].model_copy() if found else None

    def delete_pending_registration(self, user_id: str) -> None:
        self.pending.pop(user_id, None)

    def is_empty(self) -> bool:
        return not (self.users or self.email_locks or self.profiles_by_user or self.pending)


class FakeSessions:
    def __init__(self) -> None:
        self.sessions: dict[str, SessionRecord] = {}
        self.refresh_tokens: dict[str, RefreshRecord] = {}  # fingerprint -> record
        self._lock = threading.Lock()

    def create_session(self, session: SessionRecord, first_token: RefreshRecord) -> None:
        with self._lock:
            self.sessions[session.id] = session.model_copy()
            self.refresh_tokens[first_token.fingerprint] = first_token.model_copy()

    def get_session(self, session_id: str) -> SessionRecord | None:
        session = self.sessions.get(session_id)
        return session.model_copy() if session else None

    def revoke_session(self, session_id: str) -> None:
        with self._lock:
            if session_id in self.sessions:
                self.sessions[session_id] = self.sessions[session_id].model_copy(update={"revoked": True})

    def get_refresh_token(self, fingerprint: str) -> RefreshRecord | None:
        token = self.refresh_tokens.get(fingerprint)
        return token.model_copy() if token else None

    def rotate_refresh_token(self, used: RefreshRecord, replacement: RefreshRecord) -> bool:
        with self._lock:
            current = self.refresh_tokens.get(used.fingerprint)
            if current is None or current.used:
                return False
            self.refresh_tokens[used.fingerprint] = current.model_copy(update={"used": True})
            self.refresh_tokens[replacement.fingerprint] = replacement.model_copy()
            return True


class FakeApiKeys:
    def __init__(self) -> None:
        self.by_owner: dict[tuple[str, str], ApiKeyRecord] = {}  # (user id, key id) -> record
        self.by_fingerprint: dict[str, ApiKeyRecord] = {}
        self._lock = threading.Lock()

    def create_api_key(self, record: ApiKeyRecord) -> None:
        with self._lock:
            if record.fingerprint in self.by_fingerprint:
                raise AssertionError("a key fingerprint collided")  # the adapter's transaction refuses it too
            self.by_owner[(record.user_id, record.id)] = record.model_copy()
            self.by_fingerprint[record.fingerprint] = record.model_copy()

    def api_keys_of(self, user_id: str) -> list[ApiKeyRecord]:
        return [r.model_copy() for (owner, _), r in self.by_owner.items() if owner == user_id]

    def get_api_key(self, user_id: str, key_id: str) -> ApiKeyRecord | None:
        record = self.by_owner.get((user_id, key_id))
        return record.model_copy() if record else None

    def find_api_key(self, fingerprint: str) -> ApiKeyRecord | None:
        record = self.by_fingerprint.get(fingerprint)
        return record.model_copy() if record else None

    def _update_both(
        self, record: ApiKeyRecord, change: Callable[[ApiKeyRecord], ApiKeyRecord | None]
    ) -> None:
        """Change the listing copy and the lookup copy alike (each only if it exists)."""
        with self._lock:
            owner_key = (record.user_id, record.id)
            if (listed := self.by_owner.get(owner_key)) is not None and (
                changed := change(listed)
            ) is not None:
                self.by_owner[owner_key] = changed
            found = self.by_fingerprint.get(record.fingerprint)
            if found is not None and (changed := change(found)) is not None:
                self.by_fingerprint[record.fingerprint] = changed

    def revoke_api_key(self, record: ApiKeyRecord, revoked_at: str) -> None:
        self._update_both(record, lambda r: r.model_copy(update={"revoked_at": revoked_at}))

    def touch_api_key(self, record: ApiKeyRecord, used_at: str, not_since: str) -> None:
        def touched(r: ApiKeyRecord) -> ApiKeyRecord | None:
            if r.last_used_at is not None and r.last_used_at >= not_since:
                return None
            return r.model_copy(update={"last_used_at": used_at})

        self._update_both(record, touched)


class FakeFailureCounters:
    def __init__(self) -> None:
        self.counters: dict[str, FailureCounter] = {}
        self._lock = threading.Lock()

    def failure_counter(self, subject: str) -> FailureCounter | None:
        return self.counters.get(subject)

    def failures(self, subject: str) -> int | None:
        counter = self.counters.get(subject)
        return None if counter is None else counter.failures

    def take_failure_slot(self, subject: str, seen: FailureCounter | None, now: int, expires_at: int) -> bool:
        with self._lock:
            current = self.counters.get(subject)
            if seen is None:
                if current is not None and current.expires_at >= now:
                    return False
                self.counters[subject] = FailureCounter(1, now, expires_at)
                return True
            if current is None or current.failures != seen.failures or current.expires_at < now:
                return False
            self.counters[subject] = FailureCounter(current.failures + 1, now, expires_at)
            return True

    def restart_lock(self, subject: str, now: int) -> None:
        with self._lock:
            current = self.counters.get(subject)
            if current is not None and current.last_failure_at < now:
                self.counters[subject] = FailureCounter(current.failures, now, current.expires_at)

    def release_failure_slot(self, subject: str) -> None:
        with self._lock:
            current = self.counters.get(subject)
            if current is None:
                return
            if current.failures == 1:
                del self.counters[subject]
            elif current.failures > 1:
                self.counters[subject] = FailureCounter(
                    current.failures - 1, current.last_failure_at, current.expires_at
                )

    def clear_failures(self, subject: str) -> None:
        with self._lock:
            self.counters.pop(subject, None)


class FakeSigningKeys:
    """`SigningKeys` and `VerifyingKeys` over one key set the test holds (and may rotate)."""

    def __init__(self, keys: KeySet) -> None:
        self.keys = keys
        self.published = keys  # what a verifier's cache holds until it re-reads
        self.rereads = 0

    def keyset(self) -> KeySet:
        return self.keys

    def jwks(self) -> dict[str, Any]:
        return self.published.jwks()

    def refreshed_jwks(self) -> dict[str, Any]:
        self.rereads += 1
        self.published = self.keys
        return self.published.jwks()


class FakeUsageKeys:
    def __init__(self, plans: Mapping[str, str] | None = None) -> None:
        self._plans = dict(plans or {"free": "skyreel-free"})
        self.plan_of: dict[str, str] = {}  # user id -> plan id its key is on

    def plan_ids(self) -> list[str]:
        return list(self._plans)

    def ensure(self, user_id: str, plan: str) -> None:
        if plan not in self._plans:
            raise KeyError(plan)  # the adapter's lookup fails the same way
        self.plan_of[user_id] = plan

    def remove(self, user_id: str) -> None:
        self.plan_of.pop(user_id, None)


class FakeAnalyticsProfiles:
    def __init__(self) -> None:
        self.created: dict[str, str] = {}  # user id -> created_at

    def create(self, user_id: str, created_at: str) -> None:
        self.created[user_id] = created_at

    def delete(self, user_id: str) -> None:
        self.created.pop(user_id, None)

    def exists(self, user_id: str) -> bool:
        return user_id in self.created


class InProcessRegistration:
    """`RegistrationWorkflow` that runs the shipped registration definition in this process, synchronously.

    A Task calls `run_task` with the event the state machine would send (the real step handler, in the
    tests); a failed task goes to its first Catch naming the error or `States.ALL`, with the error at the
    Catch's ResultPath. Retries are skipped: every failure here is injected and permanent.
    """

    def __init__(self, run_task: Callable[[dict[str, Any]], Any]) -> None:
        self.definition = json.loads(REGISTRATION_ASL.read_text())
        self.run_task = run_task
        self.inputs: list[dict[str, Any]] = []
        self.executions: dict[str, WorkflowOutcome] = {}
        self.visited: list[str] = []

    def start(self, user_id: str) -> str:
        data: dict[str, Any] = {"user_id": user_id}
        self.inputs.append(dict(data))
        state = self.definition["StartAt"]
        while True:
            spec = self.definition["States"][state]
            self.visited.append(state)
            if spec["Type"] == "Succeed":
                outcome = WorkflowOutcome(status="SUCCEEDED")
                break
            if spec["Type"] == "Fail":
                outcome = WorkflowOutcome(status="FAILED", error=spec["Error"])
                break
            assert spec["Type"] == "Task", spec
            event = {"step": spec["Parameters"]["step"], "registration": data}
            try:
                self.run_task(event)
            except Exception as exc:
                error = type(exc).__name__
                catch = next(c for c in spec["Catch"] if {error, "States.ALL"} & set(c["ErrorEquals"]))
                path = catch.get("ResultPath", "$")
                failure = {"Error": error, "Cause": str(exc)}
                data = failure if path == "$" else {**data, path.removeprefix("$."): failure}
                state = catch["Next"]
                continue
            state = spec["Next"]
        execution = f"execution:{user_id}"
        self.executions[execution] = outcome
        return execution

    def outcome(self, execution: str) -> WorkflowOutcome | None:
        return self.executions[execution]


class StuckRegistration:
    """`RegistrationWorkflow` whose executions never finish."""

    def start(self, user_id: str) -> str:
        return f"execution:{user_id}"

    def outcome(self, execution: str) -> WorkflowOutcome | None:
        return None
