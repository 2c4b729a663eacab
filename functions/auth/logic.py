"""Auth use cases and rules. They decide; the ports (functions/auth/ports.py) fetch and store. No boto3."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cachetools import TLRUCache

from functions.auth import apikeys, throttle, tokens
from functions.auth.models import (
    ApiKeyOut,
    ApiKeyRecord,
    ApiKeyRequest,
    NewApiKeyOut,
    ProfileRecord,
    RefreshRecord,
    RegisterRequest,
    RegistrationInput,
    SessionRecord,
    TokenPair,
    UserOut,
    UserRecord,
)
from functions.auth.passwords import SHIPPED, PasswordHashing, check_policy
from functions.auth.ports import (
    AnalyticsProfiles,
    ApiKeys,
    Events,
    FailureCounters,
    RegistrationWorkflow,
    Sessions,
    SigningKeys,
    UsageKeys,
    Users,
    VerifyingKeys,
)
from functions.shared.clock import iso_at, now_iso
from functions.shared.domain_events import UserRegistered
from functions.shared.errors import (
    ConflictError,
    DependencyUnavailableError,
    NotFoundError,
    ThrottledError,
    UnauthenticatedError,
)
from functions.shared.observability import count
from functions.shared.plans import DEFAULT_PLAN
from functions.shared.principal import Caller

FREE_QUOTA_BYTES = 5 * 1024**3
WRONG_CREDENTIALS = "The email or the password is wrong."
API_KEY_TOUCH_INTERVAL_S = 60
PENDING_REGISTRATION_TTL_S = 3600  # longer than the saga's own 60 s timeout
REGISTRATION_WAIT_S = 20.0  # within API Gateway's 29 s
FAILURE_SLOT_ATTEMPTS = 5  # conditional writes lost to parallel attempts before refusing


class EmailTakenError(ConflictError):
    def __init__(self, email: str) -> None:
        super().__init__(f"An account with {email} already exists.")


class RegistrationFailedError(DependencyUnavailableError):
    pass


class RegistrationPendingError(RegistrationFailedError):
    """The saga is still running after the wait: it may yet finish, so its pending record stays."""


class RegistrationNotFoundError(Exception):
    """A forward saga step found neither the pending registration nor the user (the record expired)."""


def _epoch_now() -> int:
    return int(time.time())


def plan_of(users: Users, user_id: str) -> str:
    """The account's plan from its profile; the default plan while it has none."""
    profile = users.get_profile(user_id)
    return (profile.plan if profile else None) or DEFAULT_PLAN


@dataclass(frozen=True)
class Authenticated:
    """Who the credentials belong to, and until when the answer may be reused (a token's `exp`; None for
    an API key, which has none)."""

    caller: Caller
    expires_at: int | None = None


@dataclass
class AuthService:
    users: Users
    sessions: Sessions
    api_keys: ApiKeys
    failures: FailureCounters
    keys: SigningKeys
    workflow: RegistrationWorkflow
    issuer: str
    audience: str
    passwords: PasswordHashing = SHIPPED
    clock: Callable[[], int] = _epoch_now
    registration_wait_s: float = REGISTRATION_WAIT_S
    monotonic: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep

    # --- registration ----------------------------------------------------------------------------

    def register(self, request: RegisterRequest) -> UserOut:
        check_policy(request.password, request.email)
        registration = RegistrationInput(
            user_id=str(uuid.uuid4()),
            email=request.email,
            display_name=request.display_name,
            password_hash=self.passwords.hash(request.password),
            created_at=now_iso(),
        )
        # The saga's input is the id alone: the hash and email wait here for its steps, briefly.
        self.users.put_pending_registration(registration, self.clock() + PENDING_REGISTRATION_TTL_S)
        try:
            self._run_saga(registration)
        except RegistrationPendingError:
            raise  # still running: its steps still read the record (its TTL removes it later)
        except Exception:
            self.users.delete_pending_registration(registration.user_id)
            raise
        self.users.delete_pending_registration(registration.user_id)
        user = self.users.get_user(registration.user_id)
        if user is None:  # the saga said it succeeded; a missing user is a bug worth a loud 500
            raise RuntimeError(f"registration of {registration.user_id} succeeded but the user is missing")
        return user.public()

    def _run_saga(self, registration: RegistrationInput) -> None:
        """Start the saga and wait for its outcome (bounded): the API answers with the result."""
        execution = self.workflow.start(registration.user_id)
        deadline = self.monotonic() + self.registration_wait_s
        delay = 0.05
        while (outcome := self.workflow.outcome(execution)) is None:
            if self.monotonic() + delay > deadline:
                raise RegistrationPendingError("Registration is taking too long; try signing in shortly.")
            self.sleep(delay)
            delay = min(delay * 1.5, 0.5)
        if outcome.status == "SUCCEEDED":
            return
        if outcome.error == "EmailTaken":
            raise EmailTakenError(registration.email)
        raise RegistrationFailedError(
            f"Registration could not complete ({outcome.error or outcome.status}); "
            "nothing was kept, please try again."
        )

    # --- sessions --------------------------------------------------------------------------------

    def login(self, email: str, password: str, viewer_ip: str | None) -> TokenPair:
        """Sign in. Each attempt first takes a failure slot on its counters (per email, and per viewer
        address when known), atomically, before the slow verify: parallel guesses cannot all pass one
        check. A right password clears the email's count and gives the address's slot back."""
        email = email.strip().lower()
        account = f"account#{email}"
        subjects = [(account, throttle.ACCOUNT_FREE_FAILURES)]
        if viewer_ip:
            subjects.append((f"ip#{viewer_ip}", throttle.IP_FREE_FAILURES))
        taken = self._take_failure_slots(subjects)
        user = self.users.find_user_by_email(email)
        # Verify even for an unknown email (against a dummy hash): both failures take the same time.
        count("PasswordVerified")  # how many attempts reached argon2: the slots bound it
        if not self.passwords.verify(user.password_hash if user else None, password) or user is None:
            for subject in taken:  # a failure's wait counts from when it was known to be one
                self.failures.restart_lock(subject, self.clock())
            count("SignInFailed")
            raise UnauthenticatedError(WRONG_CREDENTIALS)
        self.failures.clear_failures(account)
        for subject in taken[1:]:
            self.failures.release_failure_slot(subject)
        if self.passwords.needs_rehash(user.password_hash):
            self.users.set_password_hash(user.id, self.passwords.hash(password))
        count("SignIn")
        return self._start_session(user.id)

    def _take_failure_slots(self, subjects: list[tuple[str, int]]) -> list[str]:
        """A slot on every subject's counter, or none: a refusal gives back the slots already taken."""
        taken: list[str] = []
        try:
            for subject, free in subjects:
                self._take_failure_slot(subject, free)
                taken.append(subject)
        except ThrottledError:
            for subject in taken:
                self.failures.release_failure_slot(subject)
            raise
        return taken

    def _take_failure_slot(self, subject: str, free_failures: int) -> None:
        """Refuse while the subject is locked; else count this attempt as a failure until proven right."""
        for _ in range(FAILURE_SLOT_ATTEMPTS):
            now = self.clock()
            stored = self.failures.failure_counter(subject)
            counter = stored.live_at(now) if stored else None
            wait = throttle.locked_until(counter, free_failures) - now
            if wait > 0:
                count("SignInThrottled")
                raise ThrottledError(
                    "Too many failed sign-ins; wait before trying again.", retry_after_s=wait
                )
            if self.failures.take_failure_slot(subject, counter, now, now + throttle.WINDOW_S):
                return
        # Lost the race every time: a burst of parallel attempts on one subject. Refuse this one.
        count("SignInThrottled")
        raise ThrottledError("Too many sign-ins at once; wait before trying again.", retry_after_s=1)

    def _start_session(self, user_id: str) -> TokenPair:
        now = self.clock()
        session = SessionRecord(
            id=uuid.uuid4().hex, user_id=user_id, expires_at=now + tokens.REFRESH_TOKEN_TTL_S
        )
        refresh_token = tokens.new_refresh_token()
        record = RefreshRecord(
            fingerprint=tokens.fingerprint(refresh_token),
            user_id=user_id,
            session_id=session.id,
            expires_at=session.expires_at,
        )
        self.sessions.create_session(session, record)
        return self._pair(user_id, session.id, refresh_token)

    def _pair(self, user_id: str, session_id: str, refresh_token: str) -> TokenPair:
        access = tokens.issue_access_token(
            self.keys.keyset(),
            issuer=self.issuer,
            audience=self.audience,
            user_id=user_id,
            session_id=session_id,
            plan=plan_of(self.users, user_id),
            now=self.clock(),
        )
        return TokenPair(
            access_token=access, refresh_token=refresh_token, expires_in=tokens.ACCESS_TOKEN_TTL_S
        )

    def refresh(self, refresh_token: str) -> TokenPair:
        record = self.sessions.get_refresh_token(tokens.fingerprint(refresh_token))
        if record is None or record.expires_at <= self.clock():
            raise UnauthenticatedError("The refresh token is not valid.")
        session = self.sessions.get_session(record.session_id)
        if session is None or session.revoked:
            raise UnauthenticatedError("This session has ended; sign in again.")
        replacement_token = tokens.new_refresh_token()
        replacement = RefreshRecord(
            fingerprint=tokens.fingerprint(replacement_token),
            user_id=record.user_id,
            session_id=record.session_id,
            expires_at=session.expires_at,
        )
        if record.used or not self.sessions.rotate_refresh_token(record, replacement):
            # A spent token presented again means it was copied: end the whole family, thief and owner alike.
            self.sessions.revoke_session(record.session_id)
            count("RefreshTokenReused")  # a security signal worth an alarm
            raise UnauthenticatedError("This refresh token was already used; the session has been ended.")
        return self._pair(record.user_id, record.session_id, replacement_token)

    def logout(self, refresh_token: str) -> None:
        record = self.sessions.get_refresh_token(tokens.fingerprint(refresh_token))
        if record is not None:  # an unknown token is already as logged out as it gets
            self.sessions.revoke_session(record.session_id)

    def me(self, user_id: str) -> UserOut:
        user = self.users.get_user(user_id)
        if user is None:
            raise NotFoundError("This account no longer exists.")
        return user.public()

    def jwks(self) -> dict[str, Any]:
        """The public keys that verify access tokens, as published at /.well-known/jwks.json."""
        return self.keys.keyset().jwks()

    # --- API keys --------------------------------------------------------------------------------

    def create_api_key(self, user_id: str, request: ApiKeyRequest) -> NewApiKeyOut:
        scopes = apikeys.check_scopes(request.scopes)
        new = apikeys.generate()
        record = ApiKeyRecord(
            id=uuid.uuid4().hex[:16],
            user_id=user_id,
            name=request.name,
            prefix=new.prefix,
            fingerprint=tokens.fingerprint(new.key),
            scopes=scopes,
            created_at=now_iso(),
        )
        self.api_keys.create_api_key(record)
        count("ApiKeyCreated")
        return NewApiKeyOut(**record.public().model_dump(), key=new.key)

    def list_api_keys(self, user_id: str) -> list[ApiKeyOut]:
        """The caller's live keys, newest first: revoked ones are gone from the caller's view."""
        live = [r for r in self.api_keys.api_keys_of(user_id) if r.revoked_at is None]
        return [r.public() for r in sorted(live, key=lambda r: r.created_at, reverse=True)]

    def revoke_api_key(self, user_id: str, key_id: str) -> None:
        record = self.api_keys.get_api_key(user_id, key_id)
        if record is None or record.revoked_at is not None:
            raise NotFoundError(f"No API key {key_id}.")
        self.api_keys.revoke_api_key(record, now_iso())


# --- the authorizer ------------------------------------------------------------------------------


@dataclass
class Authenticator:
    """Who is calling: a bearer JWT (verified against public keys only) or an API key."""

    users: Users
    sessions: Sessions
    api_keys: ApiKeys
    verifying_keys: VerifyingKeys
    issuer: str
    audience: str
    clock: Callable[[], int] = field(default=_epoch_now)

    def authenticate(self, headers: Mapping[str, str]) -> Authenticated:
        """Who presents these headers: a bearer JWT or an API key. Raises UnauthenticatedError."""
        lowered = {k.lower(): v for k, v in headers.items()}
        authorization = lowered.get("authorization", "")
        if authorization:
            scheme, _, token = authorization.partition(" ")
            if scheme.lower() != "bearer" or not token:
                raise UnauthenticatedError("Use `Authorization: Bearer <access token>`.")
            return self._from_jwt(token.strip())
        if lowered.get("x-api-key"):
            return self._from_api_key(lowered["x-api-key"].strip())
        raise UnauthenticatedError("No credentials.")

    def _from_jwt(self, token: str) -> Authenticated:
        try:
            claims = tokens.verify_access_token(
                token, self.verifying_keys.jwks(), issuer=self.issuer, audience=self.audience
            )
        except tokens.UnknownSigningKeyError:
            # A key rotated in since we cached the set looks unknown: re-read before refusing. Only for an
            # unknown key id (an expired or forged token is refused as it is), and the store rate-limits it.
            claims = tokens.verify_access_token(
                token, self.verifying_keys.refreshed_jwks(), issuer=self.issuer, audience=self.audience
            )
        session = self.sessions.get_session(claims.session_id)
        if session is None or session.revoked:
            raise UnauthenticatedError("This session has ended.")
        caller = Caller(claims.user_id, frozenset(claims.scopes), "jwt", plan=claims.plan)
        return Authenticated(caller, expires_at=claims.expires_at)

    def _from_api_key(self, key: str) -> Authenticated:
        apikeys.parse_prefix(key)
        record = self.api_keys.find_api_key(tokens.fingerprint(key))
        if record is None or record.revoked_at is not None:
            raise UnauthenticatedError("The API key is not valid.")
        now = self.clock()
        recent = iso_at(now - API_KEY_TOUCH_INTERVAL_S)
        if (
            record.last_used_at is None or record.last_used_at < recent
        ):  # a write per call costs more than it tells
            self.api_keys.touch_api_key(record, iso_at(now), recent)
        plan = plan_of(self.users, record.user_id)  # the owner's, read now: a key has no claims to carry it
        return Authenticated(
            Caller(record.user_id, frozenset(record.scopes), "api_key", api_key_id=record.id, plan=plan)
        )


class AuthenticationCache:
    """The authorizer's results per credential fingerprint, in the sandbox: API Gateway's own cache needs
    every identity source present, which a "token OR key" API cannot promise (infra/model.py, Authorizer).
    An entry lives `ttl_s`, and never past its token's `exp`; a flood of distinct credentials evicts the
    least recently used. `ttl_s` 0: nothing is kept."""

    def __init__(self, ttl_s: float, max_entries: int, timer: Callable[[], float] = time.time) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._entries: TLRUCache[str, Authenticated] = TLRUCache(
            maxsize=max_entries,
            ttu=self._expires,
            timer=timer,  # wall clock: `exp` is epoch seconds
        )
        self._lock = threading.Lock()  # cachetools caches are not thread-safe

    def _expires(self, _credential: str, result: Authenticated, now: float) -> float:
        until = now + self.ttl_s
        return until if result.expires_at is None else min(until, float(result.expires_at))

    def get(self, credential: str) -> Authenticated | None:
        with self._lock:
            return self._entries.get(credential)

    def put(self, credential: str, result: Authenticated) -> None:
        if self.ttl_s > 0:
            with self._lock:
                self._entries[credential] = result

    def __len__(self) -> int:
        return len(self._entries)


# --- the registration saga's steps (each idempotent: Step Functions retries them) --------------------


@dataclass
class RegistrationSteps:
    """Each step takes the registration's id (all the execution carries) and reads the rest itself."""

    users: Users
    analytics: AnalyticsProfiles
    events: Events
    usage: UsageKeys | None = None  # None where the API offers no usage plans

    def load(self, user_id: str) -> RegistrationInput | None:
        """What a step works on: the pending registration, or once it is gone (a step retried after the
        API stopped waiting), the user the saga already made. None: neither exists."""
        pending = self.users.get_pending_registration(user_id)
        if pending is not None:
            return pending
        user = self.users.get_user(user_id)
        if user is None:
            return None
        return RegistrationInput(
            user_id=user.id,
            email=user.email,
            display_name=user.display_name,
            password_hash=user.password_hash,
            created_at=user.created_at,
        )

    def _forward(self, user_id: str) -> RegistrationInput:
        registration = self.load(user_id)
        if registration is None:
            raise RegistrationNotFoundError(f"no pending registration {user_id}")
        return registration

    def create_user(self, user_id: str) -> None:
        r = self._forward(user_id)
        user = UserRecord(
            id=r.user_id,
            email=r.email,
            display_name=r.display_name,
            password_hash=r.password_hash,
            created_at=r.created_at,
        )
        if not self.users.create_user(user):
            raise EmailTakenError(r.email)

    def delete_user(self, user_id: str) -> None:
        registration = self.load(user_id)
        if registration is None:
            return  # the user and its email lock are written together: with no user there is no lock
        self.users.delete_user(user_id, registration.email)

    def create_profile(self, user_id: str) -> None:
        r = self._forward(user_id)
        self.users.put_profile(
            ProfileRecord(
                user_id=r.user_id, quota_bytes=FREE_QUOTA_BYTES, plan=DEFAULT_PLAN, created_at=r.created_at
            )
        )

    def delete_profile(self, user_id: str) -> None:
        self.users.delete_profile(user_id)

    def create_analytics_profile(self, user_id: str) -> None:
        r = self._forward(user_id)
        self.analytics.create(r.user_id, r.created_at)

    def delete_analytics_profile(self, user_id: str) -> None:
        self.analytics.delete(user_id)

    def create_usage_key(self, user_id: str) -> None:
        """The account's API Gateway API key on the default usage plan: what its requests are metered by."""
        self._forward(user_id)
        if self.usage is not None:
            self.usage.ensure(user_id, self.usage.plan_ids()[0])

    def delete_usage_key(self, user_id: str) -> None:
        if self.usage is not None:
            self.usage.remove(user_id)

    def publish_registered(self, user_id: str) -> None:
        r = self._forward(user_id)
        self.events.publish(
            UserRegistered(
                user_id=r.user_id, email=r.email, display_name=r.display_name, created_at=r.created_at
            )
        )
        count("AccountRegistered")  # the saga's last step: the account is complete


def backfill_usage_keys(users: Users, keys: UsageKeys) -> int:
    """Every account with a profile gets its key on its profile's plan (the default plan if that one is
    not offered). Returns how many accounts were checked."""
    offered = keys.plan_ids()
    checked = 0
    for profile in users.profiles():
        plan = profile.plan or DEFAULT_PLAN
        keys.ensure(profile.user_id, plan if plan in offered else offered[0])
        checked += 1
    return checked
