"""Auth use cases. They decide; the repositories in dal.py fetch and store. No boto3 here."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from functions.auth import apikeys, passwords, throttle, tokens
from functions.auth.dal import (
    AnalyticsProfiles,
    AuthRepository,
    KeyStore,
    RegistrationPendingError,
    UsageKeys,
)
from functions.auth.models import (
    ApiKeyOut,
    ApiKeyRecord,
    ApiKeyRequest,
    NewApiKeyOut,
    RefreshRecord,
    RegisterRequest,
    RegistrationInput,
    SessionRecord,
    TokenPair,
    UserOut,
    UserRecord,
    now_iso,
)
from functions.shared.errors import NotFoundError, ThrottledError, UnauthenticatedError
from functions.shared.observability import count

FREE_QUOTA_BYTES = 5 * 1024**3
WRONG_CREDENTIALS = "The email or the password is wrong."
API_KEY_TOUCH_INTERVAL_S = 60
PENDING_REGISTRATION_TTL_S = 3600  # longer than the saga's own 60 s timeout
FAILURE_SLOT_ATTEMPTS = 5  # conditional writes lost to parallel attempts before refusing


class Workflow(Protocol):
    def run(self, request: RegistrationInput) -> None: ...


class Publisher(Protocol):
    def publish(self, detail_type: str, detail: dict[str, Any]) -> None: ...


class VerifyingKeys(Protocol):
    """The published JWKS: `jwks()` may be cached, `refreshed_jwks()` re-reads (rate-limited)."""

    def jwks(self) -> Mapping[str, Any]: ...

    def refreshed_jwks(self) -> Mapping[str, Any]: ...


@dataclass(frozen=True)
class Principal:
    """Who is calling, as the authorizer hands it to every handler."""

    user_id: str
    scopes: tuple[str, ...]
    auth_type: str  # "jwt" or "api_key"
    api_key_id: str | None = None
    session_id: str | None = None
    expires_at: int | None = None  # a token's `exp`: no cache may keep this principal longer
    plan: str = tokens.DEFAULT_PLAN  # the account's plan (storage quota and limits depend on it)

    def context(self) -> dict[str, str]:
        ctx = {
            "user_id": self.user_id,
            "scopes": " ".join(self.scopes),
            "auth_type": self.auth_type,
            "plan": self.plan,
        }
        if self.api_key_id:
            ctx["api_key_id"] = self.api_key_id
        return ctx


@dataclass
class AuthService:
    repo: AuthRepository
    keys: KeyStore
    issuer: str
    audience: str
    clock: Callable[[], int] = field(default=lambda: int(time.time()))

    # --- registration ----------------------------------------------------------------------------

    def register(self, request: RegisterRequest, workflow: Workflow) -> UserOut:
        passwords.check_policy(request.password, request.email)
        registration = RegistrationInput(
            user_id=str(uuid.uuid4()),
            email=request.email,
            display_name=request.display_name,
            password_hash=passwords.hash_password(request.password),
            created_at=now_iso(),
        )
        # The saga's input is the id alone: the hash and email wait here for its steps, briefly.
        self.repo.put_pending_registration(registration, self.clock() + PENDING_REGISTRATION_TTL_S)
        try:
            workflow.run(registration)
        except RegistrationPendingError:
            raise  # still running: its steps still read the record (its TTL removes it later)
        except Exception:
            self.repo.delete_pending_registration(registration.user_id)
            raise
        self.repo.delete_pending_registration(registration.user_id)
        user = self.repo.get_user(registration.user_id)
        if user is None:  # the saga said it succeeded; a missing user is a bug worth a loud 500
            raise RuntimeError(f"registration of {registration.user_id} succeeded but the user is missing")
        return user.public()

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
        taken: list[str] = []
        try:
            for subject, free in subjects:
                self._take_failure_slot(subject, free)
                taken.append(subject)
        except ThrottledError:
            for subject in taken:
                self.repo.release_failure_slot(subject)
            raise
        user = self.repo.find_user_by_email(email)
        # Verify even for an unknown email (against a dummy hash): both failures take the same time.
        count("PasswordVerified")  # how many attempts reached argon2: the slots bound it
        if not passwords.verify_password(user.password_hash if user else None, password) or user is None:
            for subject in taken:
                self.repo.restart_lock(subject, self.clock())
            count("SignInFailed")
            raise UnauthenticatedError(WRONG_CREDENTIALS)
        self.repo.clear_failures(account)
        for subject in taken[1:]:
            self.repo.release_failure_slot(subject)
        if passwords.needs_rehash(user.password_hash):
            self.repo.set_password_hash(user.id, passwords.hash_password(password))
        count("SignIn")
        return self._start_session(user.id)

    def _take_failure_slot(self, subject: str, free_failures: int) -> None:
        """Refuse while the subject is locked; else count this attempt as a failure until proven right."""
        for _ in range(FAILURE_SLOT_ATTEMPTS):
            now = self.clock()
            counter = self.repo.failure_counter(subject, now)
            wait = throttle.locked_until(counter, free_failures) - now
            if wait > 0:
                count("SignInThrottled")
                raise ThrottledError(
                    "Too many failed sign-ins; wait before trying again.", retry_after_s=wait
                )
            if self.repo.take_failure_slot(subject, counter, now):
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
        self.repo.create_session(session, record)
        return self._pair(user_id, session.id, refresh_token)

    def _pair(self, user_id: str, session_id: str, refresh_token: str) -> TokenPair:
        access = tokens.issue_access_token(
            self.keys.keyset(),
            issuer=self.issuer,
            audience=self.audience,
            user_id=user_id,
            session_id=session_id,
            plan=self.repo.get_plan(user_id),
            now=self.clock(),
        )
        return TokenPair(
            access_token=access, refresh_token=refresh_token, expires_in=tokens.ACCESS_TOKEN_TTL_S
        )

    def refresh(self, refresh_token: str) -> TokenPair:
        record = self.repo.get_refresh_token(tokens.fingerprint(refresh_token))
        if record is None or record.expires_at <= self.clock():
            raise UnauthenticatedError("The refresh token is not valid.")
        session = self.repo.get_session(record.session_id)
        if session is None or session.revoked:
            raise UnauthenticatedError("This session has ended; sign in again.")
        replacement_token = tokens.new_refresh_token()
        replacement = RefreshRecord(
            fingerprint=tokens.fingerprint(replacement_token),
            user_id=record.user_id,
            session_id=record.session_id,
            expires_at=session.expires_at,
        )
        if record.used or not self.repo.rotate_refresh_token(record, replacement):
            # A spent token presented again means it was copied: end the whole family, thief and owner alike.
            self.repo.revoke_session(record.session_id)
            count("RefreshTokenReused")  # a security signal worth an alarm
            raise UnauthenticatedError("This refresh token was already used; the session has been ended.")
        return self._pair(record.user_id, record.session_id, replacement_token)

    def logout(self, refresh_token: str) -> None:
        record = self.repo.get_refresh_token(tokens.fingerprint(refresh_token))
        if record is not None:  # an unknown token is already as logged out as it gets
            self.repo.revoke_session(record.session_id)

    def me(self, user_id: str) -> UserOut:
        user = self.repo.get_user(user_id)
        if user is None:
            raise NotFoundError("This account no longer exists.")
        return user.public()

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
        self.repo.create_api_key(record)
        count("ApiKeyCreated")
        return NewApiKeyOut(**record.public().model_dump(), key=new.key)

    def list_api_keys(self, user_id: str) -> list[ApiKeyOut]:
        return [r.public() for r in self.repo.list_api_keys(user_id)]

    def revoke_api_key(self, user_id: str, key_id: str) -> None:
        record = self.repo.get_api_key(user_id, key_id)
        if record is None or record.revoked_at is not None:
            raise NotFoundError(f"No API key {key_id}.")
        self.repo.revoke_api_key(record, now_iso())

    # --- the authorizer ------------------------------------------------------------------------

    def authenticate(self, headers: Mapping[str, str]) -> Principal:
        """Who presents these headers (see Authenticator), verifying tokens with this service's key set."""
        return Authenticator(self.repo, self.keys, self.issuer, self.audience, self.clock).authenticate(
            headers
        )


@dataclass
class Authenticator:
    """Who is calling: a bearer JWT (verified against public keys only) or an API key."""

    repo: AuthRepository
    verifying_keys: VerifyingKeys
    issuer: str
    audience: str
    clock: Callable[[], int] = field(default=lambda: int(time.time()))

    def authenticate(self, headers: Mapping[str, str]) -> Principal:
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

    def _from_jwt(self, token: str) -> Principal:
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
        session = self.repo.get_session(claims.session_id)
        if session is None or session.revoked:
            raise UnauthenticatedError("This session has ended.")
        return Principal(
            claims.user_id,
            claims.scopes,
            "jwt",
            session_id=claims.session_id,
            expires_at=claims.expires_at,
            plan=claims.plan,
        )

    def _from_api_key(self, key: str) -> Principal:
        apikeys.parse_prefix(key)
        record = self.repo.find_api_key(tokens.fingerprint(key))
        if record is None or record.revoked_at is not None:
            raise UnauthenticatedError("The API key is not valid.")
        now = self.clock()
        recent = _iso(now - API_KEY_TOUCH_INTERVAL_S)
        if (
            record.last_used_at is None or record.last_used_at < recent
        ):  # a write per call would cost more than it tells
            self.repo.touch_api_key(record, _iso(now), recent)
        plan = self.repo.get_plan(record.user_id)  # the owner's, read now: a key has no claims to carry it
        return Principal(record.user_id, tuple(record.scopes), "api_key", api_key_id=record.id, plan=plan)


def _iso(epoch: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


# --- the registration saga's steps (each idempotent: Step Functions retries them) --------------------


@dataclass
class RegistrationSteps:
    repo: AuthRepository
    analytics: AnalyticsProfiles
    events: Publisher
    usage: UsageKeys | None = None  # None where the API has no usage plans

    def load(self, user_id: str) -> RegistrationInput | None:
        """What a step works on: the pending registration, or once it is gone (a step retried after the
        API stopped waiting), the user the saga already made. None: neither exists."""
        pending = self.repo.get_pending_registration(user_id)
        if pending is not None:
            return pending
        user = self.repo.get_user(user_id)
        if user is None:
            return None
        return RegistrationInput(
            user_id=user.id,
            email=user.email,
            display_name=user.display_name,
            password_hash=user.password_hash,
            created_at=user.created_at,
        )

    def create_user(self, r: RegistrationInput) -> None:
        self.repo.create_user(
            UserRecord(
                id=r.user_id,
                email=r.email,
                display_name=r.display_name,
                password_hash=r.password_hash,
                created_at=r.created_at,
            )
        )

    def delete_user(self, r: RegistrationInput) -> None:
        self.repo.delete_user(r.user_id, r.email)

    def create_profile(self, r: RegistrationInput) -> None:
        self.repo.put_profile(r.user_id, FREE_QUOTA_BYTES, r.created_at)

    def delete_profile(self, r: RegistrationInput) -> None:
        self.repo.delete_profile(r.user_id)

    def create_analytics_profile(self, r: RegistrationInput) -> None:
        self.analytics.create(r.user_id, r.created_at)

    def delete_analytics_profile(self, r: RegistrationInput) -> None:
        self.analytics.delete(r.user_id)

    def create_usage_key(self, r: RegistrationInput) -> None:
        """The account's API Gateway API key on the default usage plan: what its requests are metered by."""
        if self.usage is not None:
            self.usage.ensure(r.user_id)

    def delete_usage_key(self, r: RegistrationInput) -> None:
        if self.usage is not None:
            self.usage.remove(r.user_id)

    def publish_registered(self, r: RegistrationInput) -> None:
        self.events.publish(
            "user.registered",
            {
                "user_id": r.user_id,
                "email": r.email,
                "display_name": r.display_name,
                "created_at": r.created_at,
            },
        )
        count("AccountRegistered")  # the saga's last step: the account is complete
