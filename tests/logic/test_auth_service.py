"""Signing in (throttling included), refresh and logout, API keys, and who is calling (the authorizer's
Authenticator): the auth use cases on fakes, with the network off."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import jwt
import pytest
from argon2 import PasswordHasher

from functions.auth import throttle, tokens
from functions.auth.logic import Authenticated
from functions.auth.models import ApiKeyRequest, ProfileRecord, TokenPair
from functions.auth.passwords import PasswordHashing
from functions.shared.api import status_for
from functions.shared.clock import iso_at
from functions.shared.errors import NotFoundError, ThrottledError, UnauthenticatedError, ValidationFailedError
from functions.shared.observability import metrics
from functions.shared.principal import Caller
from tests.logic.auth_world import AUD, CHEAP, IP, ISS, KEYS, PASSWORD, World, build_world


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> World:
    return build_world(monkeypatch)


def sha256(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class RecordingHashing(PasswordHashing):
    """The cheap hasher, recording which stored hash each verify ran against (None: the dummy path)."""

    def __init__(self, delay_s: float = 0) -> None:
        super().__init__(CHEAP)
        self.verified: list[str | None] = []
        self.delay_s = delay_s

    def verify(self, stored_hash: str | None, password: str) -> bool:
        self.verified.append(stored_hash)
        time.sleep(self.delay_s)  # argon2 is slow on purpose: parallel attempts are in flight at once
        return super().verify(stored_hash, password)


# --- signing in ------------------------------------------------------------------------------------------


def test_login_starts_a_session_and_stores_only_hashes(world: World) -> None:
    user_id = world.register("ada@example.com")
    pair = world.login("  ADA@example.com ")  # normalised like registration
    claims = tokens.verify_access_token(pair.access_token, KEYS.jwks(), issuer=ISS, audience=AUD)
    assert claims.user_id == user_id
    session = world.sessions.get_session(claims.session_id)
    assert session is not None
    assert (session.user_id, session.revoked) == (user_id, False)
    refresh = world.sessions.get_refresh_token(sha256(pair.refresh_token))
    assert refresh is not None
    assert (refresh.session_id, refresh.used) == (claims.session_id, False)
    assert pair.refresh_token not in json.dumps(
        [r.model_dump() for r in world.sessions.refresh_tokens.values()]
    )
    assert world.service.me(user_id).email == "ada@example.com"


def test_me_of_an_account_that_is_gone_is_a_404(world: World) -> None:
    with pytest.raises(NotFoundError):
        world.service.me("nobody")


def test_wrong_password_and_unknown_email_fail_alike(world: World) -> None:
    world.register("ada@example.com")
    world.service.passwords = recording = RecordingHashing()
    with pytest.raises(UnauthenticatedError) as wrong:
        world.login("ada@example.com", "not the passphrase")
    with pytest.raises(UnauthenticatedError) as unknown:
        world.login("nobody@example.com", "not the passphrase")
    assert str(wrong.value) == str(unknown.value)
    assert (wrong.value.code, wrong.value.details) == (unknown.value.code, unknown.value.details)
    # Both pay for one argon2 verification (the unknown one against the dummy hash).
    assert len(recording.verified) == 2
    assert recording.verified[1] is None
    assert world.failures.failures("account#ada@example.com") == 1
    assert world.failures.failures("account#nobody@example.com") == 1
    assert world.failures.failures(f"ip#{IP}") == 2


def test_sign_ins_are_counted_as_business_metrics(world: World) -> None:
    world.register("ada@example.com")
    metrics.clear_metrics()
    world.login("ada@example.com")
    with pytest.raises(UnauthenticatedError):
        world.login("ada@example.com", "not the passphrase")
    recorded = {name: m["Value"] for name, m in metrics.provider.metric_set.items()}
    metrics.clear_metrics()
    assert recorded == {"SignIn": [1.0], "SignInFailed": [1.0], "PasswordVerified": [1.0, 1.0]}


def test_an_account_is_throttled_after_five_failures(world: World) -> None:
    world.register("ada@example.com")
    for i in range(throttle.ACCOUNT_FREE_FAILURES):
        with pytest.raises(UnauthenticatedError):
            world.login("ada@example.com", f"guess number {i}")
    # Locked: even the right password waits, and a refused attempt does not count as a failure.
    with pytest.raises(ThrottledError) as locked:
        world.login("ada@example.com")
    assert status_for(locked.value) == 429
    assert locked.value.retry_after_s == throttle.BASE_DELAY_S
    assert world.failures.failures("account#ada@example.com") == throttle.ACCOUNT_FREE_FAILURES
    # The lock is on the account, from anywhere.
    with pytest.raises(ThrottledError):
        world.login("ada@example.com", ip="198.51.100.7")
    # Each further failure doubles the wait.
    world.clock.advance(locked.value.retry_after_s)
    with pytest.raises(UnauthenticatedError):
        world.login("ada@example.com", "one more guess")
    with pytest.raises(ThrottledError) as longer:
        world.login("ada@example.com")
    assert longer.value.retry_after_s == 2 * throttle.BASE_DELAY_S
    world.clock.advance(longer.value.retry_after_s)
    world.login("ada@example.com")
    assert world.failures.failures("account#ada@example.com") is None  # a success clears the count


def test_parallel_wrong_passwords_cannot_all_reach_argon2(world: World) -> None:
    """The slot is taken before the slow verify: 12 parallel guesses, at most the free five verified.
    (The counters' compare-and-set is held to DynamoDB's in tests/contract/test_auth_ports.py.)"""
    world.register("ada@example.com")
    world.service.passwords = recording = RecordingHashing(delay_s=0.3)
    all_in = threading.Barrier(12)

    def attempt(i: int) -> str:
        all_in.wait()
        try:
            world.login("ada@example.com", f"guess number {i}", ip=f"192.0.2.{i + 1}")
        except ThrottledError:
            return "throttled"
        except UnauthenticatedError:
            return "wrong"
        return "signed in"

    with ThreadPoolExecutor(12) as pool:
        outcomes = list(pool.map(attempt, range(12)))
    verified = len(recording.verified)
    assert verified <= throttle.ACCOUNT_FREE_FAILURES
    assert outcomes.count("wrong") == verified
    assert outcomes.count("throttled") == 12 - verified
    assert world.failures.failures("account#ada@example.com") == verified
    # A refused attempt gave its address slot back.
    assert sum(world.failures.failures(f"ip#192.0.2.{i + 1}") or 0 for i in range(12)) == verified


def test_a_right_password_gives_the_address_slot_back(world: World) -> None:
    world.register("ada@example.com")
    with pytest.raises(UnauthenticatedError):
        world.login("someone@example.com", "a wrong passphrase")
    world.login("ada@example.com")
    assert world.failures.failures(f"ip#{IP}") == 1  # the failure counts, the success does not
    world.login("ada@example.com", ip=None)  # no viewer address: no per-address count
    assert world.failures.failures(f"ip#{IP}") == 1


def test_a_failures_wait_counts_from_when_it_was_known(world: World) -> None:
    world.register("ada@example.com")
    for i in range(throttle.ACCOUNT_FREE_FAILURES):
        with pytest.raises(UnauthenticatedError):
            world.login("ada@example.com", f"guess {i}")
    slot_taken_at = world.clock.now
    real_verify = world.service.passwords.verify

    def slow(stored_hash: str | None, password: str) -> bool:
        world.clock.advance(3)  # the verify takes a while: the lock restarts when it ends
        return real_verify(stored_hash, password)

    world.clock.advance(throttle.BASE_DELAY_S)
    world.service.passwords = RecordingHashing()
    world.service.passwords.verify = slow  # type: ignore[method-assign]
    with pytest.raises(UnauthenticatedError):
        world.login("ada@example.com", "another guess")
    counter = world.failures.failure_counter("account#ada@example.com")
    assert counter is not None
    assert counter.last_failure_at == slot_taken_at + throttle.BASE_DELAY_S + 3


def test_the_viewer_address_is_the_ip_of_cloudfronts_header() -> None:
    assert throttle.viewer_ip("203.0.113.9:46532") == "203.0.113.9"
    assert throttle.viewer_ip("2001:db8::7:443") == "2001:db8::7"
    assert throttle.viewer_ip("[2001:db8::7]:443") == "2001:db8::7"
    assert throttle.viewer_ip("not an address") is None
    assert throttle.viewer_ip(None) is None


def test_a_source_address_is_throttled_across_accounts(world: World) -> None:
    world.register("ada@example.com")
    # Many accounts, one guess each (so no account lock), all from one address.
    for i in range(throttle.IP_FREE_FAILURES - 1):
        with pytest.raises(UnauthenticatedError):
            world.login(f"someone-{i}@example.com", "a wrong passphrase")
    world.login("ada@example.com")  # one short of the limit: still free
    with pytest.raises(UnauthenticatedError):
        world.login("someone-else@example.com", "a wrong passphrase")
    assert world.failures.failures(f"ip#{IP}") == throttle.IP_FREE_FAILURES
    assert world.failures.failures("account#someone-0@example.com") == 1
    with pytest.raises(ThrottledError) as locked:
        world.login("ada@example.com")  # a fresh account, the right password, the same address
    assert status_for(locked.value) == 429
    assert locked.value.retry_after_s >= throttle.BASE_DELAY_S
    assert world.failures.failures("account#ada@example.com") is None  # the lock is not the account's
    world.login("ada@example.com", ip="198.51.100.7")  # from elsewhere: fine


def test_login_rehashes_a_password_hashed_with_other_parameters(world: World) -> None:
    user_id = world.register("ada@example.com")
    old_hash = PasswordHasher(time_cost=2, memory_cost=16, parallelism=1).hash(PASSWORD)
    assert world.hashing.needs_rehash(old_hash)  # the premise: the parameters have changed since
    world.users.set_password_hash(user_id, old_hash)
    world.login("ada@example.com")
    account = world.users.get_user(user_id)
    assert account is not None
    assert account.password_hash != old_hash
    assert "$m=8,t=1,p=1$" in account.password_hash  # the current parameters
    assert not world.hashing.needs_rehash(account.password_hash)
    assert CHEAP.verify(account.password_hash, PASSWORD)
    world.login("ada@example.com")  # still signs in, and an up-to-date hash is left alone
    assert world.users.get_user(user_id) == account


def test_failures_older_than_the_window_start_a_fresh_count(world: World) -> None:
    world.register("ada@example.com")
    now = world.clock.now
    world.clock.now = now - throttle.WINDOW_S - 60  # a burst of failures, over a day ago
    for i in range(throttle.ACCOUNT_FREE_FAILURES):
        with pytest.raises(UnauthenticatedError):
            world.login("ada@example.com", f"old guess {i}")
    world.clock.now = now  # the stored counter is still there (TTL is late), past its window
    with pytest.raises(UnauthenticatedError):
        world.login("ada@example.com", "a typo today")  # one failure today: well within the free five
    assert world.failures.failures("account#ada@example.com") == 1
    world.login("ada@example.com")


# --- refresh and logout ------------------------------------------------------------------------------------


def _session_of(pair: TokenPair) -> str:
    return tokens.verify_access_token(pair.access_token, KEYS.jwks(), issuer=ISS, audience=AUD).session_id


def _bearer(pair: TokenPair) -> dict[str, str]:
    return {"Authorization": f"Bearer {pair.access_token}"}


def test_refresh_rotates_the_token(world: World) -> None:
    world.register("ada@example.com")
    first = world.login("ada@example.com")
    second = world.service.refresh(first.refresh_token)
    assert second.refresh_token != first.refresh_token
    assert _session_of(second) == _session_of(first)  # same family
    spent = world.sessions.get_refresh_token(sha256(first.refresh_token))
    fresh = world.sessions.get_refresh_token(sha256(second.refresh_token))
    assert spent is not None
    assert fresh is not None
    assert (spent.used, fresh.used) == (True, False)
    assert fresh.session_id == _session_of(first)
    assert (
        world.authenticator.authenticate(_bearer(second)).caller.user_id == world.accounts["ada@example.com"]
    )
    with pytest.raises(UnauthenticatedError):
        world.service.refresh("rt_not-a-token-we-issued")


def test_reusing_a_refresh_token_revokes_the_whole_family(world: World) -> None:
    world.register("ada@example.com")
    first = world.login("ada@example.com")
    other_device = world.login("ada@example.com")
    second = world.service.refresh(first.refresh_token)
    with pytest.raises(UnauthenticatedError, match="already used"):
        world.service.refresh(first.refresh_token)
    session = world.sessions.get_session(_session_of(first))
    assert session is not None
    assert session.revoked
    # The newest token of the family dies too: we cannot tell the thief from the owner.
    with pytest.raises(UnauthenticatedError):
        world.service.refresh(second.refresh_token)
    with pytest.raises(UnauthenticatedError):
        world.authenticator.authenticate(_bearer(second))
    # Another session of the same account is untouched.
    assert world.service.refresh(other_device.refresh_token).access_token


def test_two_refreshes_racing_with_one_token_end_the_family(world: World) -> None:
    """Both read the token unspent; the store lets one rotate it, the other finds it spent: a reuse."""
    world.register("ada@example.com")
    pair = world.login("ada@example.com")
    record = world.sessions.get_refresh_token(sha256(pair.refresh_token))
    assert record is not None
    real_get = world.sessions.get_refresh_token
    world.sessions.get_refresh_token = lambda fingerprint: record  # type: ignore[method-assign]
    world.service.refresh(pair.refresh_token)
    with pytest.raises(UnauthenticatedError, match="already used"):
        world.service.refresh(pair.refresh_token)  # read as unspent, refused by the rotation
    world.sessions.get_refresh_token = real_get  # type: ignore[method-assign]
    assert world.sessions.sessions[_session_of(pair)].revoked


def test_logout_revokes_the_session(world: World) -> None:
    world.register("ada@example.com")
    pair = world.login("ada@example.com")
    assert world.authenticator.authenticate(_bearer(pair)).caller.user_id == world.accounts["ada@example.com"]
    world.service.logout(pair.refresh_token)
    session = world.sessions.get_session(_session_of(pair))
    assert session is not None
    assert session.revoked
    with pytest.raises(UnauthenticatedError):
        world.service.refresh(pair.refresh_token)
    with pytest.raises(UnauthenticatedError, match="session has ended"):
        world.authenticator.authenticate(_bearer(pair))
    world.service.logout("rt_unknown-token-is-fine")  # no error, nothing to revoke


def test_an_expired_refresh_token_is_refused(world: World) -> None:
    world.register("ada@example.com")
    pair = world.login("ada@example.com")
    world.clock.advance(tokens.REFRESH_TOKEN_TTL_S)
    with pytest.raises(UnauthenticatedError, match="not valid"):
        world.service.refresh(pair.refresh_token)
    record = world.sessions.get_refresh_token(sha256(pair.refresh_token))
    assert record is not None
    assert record.used is False  # refused before it could be spent


def test_the_jwks_is_the_public_half_of_the_signing_keys(world: World) -> None:
    document = world.service.jwks()
    assert document == KEYS.jwks()
    assert all("d" not in key for key in document["keys"])


# --- API keys ---------------------------------------------------------------------------------------------


def test_create_api_key_shows_it_once_and_stores_only_its_hash(world: World) -> None:
    created = world.service.create_api_key(
        "u1", ApiKeyRequest(name="ci", scopes=["videos:read", "search", "search"])
    )
    assert created.key.startswith(f"{created.prefix}_")
    assert created.prefix == created.key[: len("skr_") + 8]
    [stored] = world.api_keys.api_keys_of("u1")
    assert world.api_keys.find_api_key(sha256(created.key)) == stored
    assert stored.fingerprint == sha256(created.key)
    assert stored.scopes == ["search", "videos:read"]  # deduplicated, sorted
    assert created.key not in json.dumps(stored.model_dump())
    [listed] = world.service.list_api_keys("u1")
    assert listed.id == created.id
    assert "key" not in listed.model_dump()  # never shown again
    assert world.service.list_api_keys("u2") == []


def test_api_keys_are_listed_newest_first(world: World) -> None:
    made = []
    for name in ("first", "second", "third"):
        made.append(world.service.create_api_key("u1", ApiKeyRequest(name=name, scopes=["search"])))
        time.sleep(0.002)  # created_at has millisecond precision
    assert [k.name for k in world.service.list_api_keys("u1")] == ["third", "second", "first"]


@pytest.mark.parametrize("scopes", [[], ["account"], ["videos:read", "admin"]])
def test_api_key_scopes_are_checked_before_anything_is_stored(world: World, scopes: list[str]) -> None:
    with pytest.raises(ValidationFailedError) as refused:
        world.service.create_api_key("u1", ApiKeyRequest(name="x", scopes=scopes))
    assert status_for(refused.value) == 422
    assert world.api_keys.by_owner == {}


def test_using_an_api_key_records_its_last_use_at_most_once_a_minute(world: World) -> None:
    created = world.service.create_api_key("u1", ApiKeyRequest(name="ci", scopes=["search"]))

    def last_used() -> list[str | None]:
        return [
            r.last_used_at
            for r in (*world.api_keys.by_owner.values(), *world.api_keys.by_fingerprint.values())
        ]

    assert last_used() == [None, None]
    first_use = world.clock.now
    result = world.authenticator.authenticate({"X-API-Key": created.key})
    assert result == Authenticated(Caller("u1", frozenset({"search"}), "api_key", api_key_id=created.id))
    assert last_used() == [iso_at(first_use)] * 2
    world.clock.advance(30)
    world.authenticator.authenticate({"x-api-key": created.key})
    assert last_used() == [iso_at(first_use)] * 2  # too soon to write
    world.clock.advance(31)
    world.authenticator.authenticate({"X-API-Key": created.key})
    assert last_used() == [iso_at(world.clock.now)] * 2
    assert world.service.list_api_keys("u1")[0].last_used_at == iso_at(world.clock.now)


def test_the_callers_plan_reaches_the_authorizer_context(world: World) -> None:
    """Handlers look up quotas by plan: from the token's `plan` claim, or the API key owner's profile."""
    user_id = world.register("ada@example.com")
    pair = world.login("ada@example.com")  # no profile yet: the default plan
    assert world.authenticator.authenticate(_bearer(pair)).caller.to_context()["plan"] == "free"
    key = world.service.create_api_key(user_id, ApiKeyRequest(name="ci", scopes=["videos:read"]))
    world.users.put_profile(ProfileRecord(user_id=user_id, quota_bytes=1, plan="pro", created_at="x"))
    assert (
        world.authenticator.authenticate({"X-API-Key": key.key}).caller.to_context()["plan"] == "pro"
    )  # read now
    assert world.authenticator.authenticate(_bearer(world.login("ada@example.com"))).caller.plan == "pro"
    assert (
        world.authenticator.authenticate(_bearer(pair)).caller.plan == "free"
    )  # an old token keeps its claim


def test_a_revoked_api_key_is_refused(world: World) -> None:
    created = world.service.create_api_key("u1", ApiKeyRequest(name="ci", scopes=["search"]))
    other = world.service.create_api_key("u1", ApiKeyRequest(name="kept", scopes=["search"]))
    with pytest.raises(NotFoundError):
        world.service.revoke_api_key("u2", created.id)  # not yours: as if it did not exist
    assert all(r.revoked_at is None for r in world.api_keys.by_fingerprint.values())
    world.service.revoke_api_key("u1", created.id)
    assert world.api_keys.by_owner[("u1", created.id)].revoked_at is not None  # the listing copy
    assert world.api_keys.by_fingerprint[sha256(created.key)].revoked_at is not None  # and the lookup copy
    with pytest.raises(UnauthenticatedError, match="not valid"):
        world.authenticator.authenticate({"X-API-Key": created.key})
    assert [k.id for k in world.service.list_api_keys("u1")] == [other.id]
    assert world.authenticator.authenticate({"X-API-Key": other.key}).caller.api_key_id == other.id
    with pytest.raises(NotFoundError):
        world.service.revoke_api_key("u1", created.id)  # already revoked


@pytest.mark.parametrize(
    "key", ["not-a-key", "skr_short_secret", "skr_0123abcd_a-well-formed-key-that-was-never-issued"]
)
def test_unknown_and_malformed_api_keys_are_refused(world: World, key: str) -> None:
    with pytest.raises(UnauthenticatedError):
        world.authenticator.authenticate({"X-API-Key": key})


# --- access tokens through the verification path -----------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _tampered(token: str, part: str) -> str:
    header, payload, signature = token.split(".")
    if part == "signature":
        flipped = bytearray(_unb64(signature))
        flipped[len(flipped) // 2] ^= 0x01  # a real byte: the last base64 character may be mostly padding
        return f"{header}.{payload}.{_b64(bytes(flipped))}"
    claims = json.loads(_unb64(payload))
    claims["sub"] = "someone-else"
    return f"{header}.{_b64(json.dumps(claims).encode())}.{signature}"


def test_a_token_names_its_caller_and_expiry(world: World) -> None:
    user_id = world.register("ada@example.com")
    pair = world.login("ada@example.com")
    result = world.authenticator.authenticate(_bearer(pair))
    assert result.caller == Caller(user_id, frozenset(tokens.USER_SCOPES), "jwt", plan="free")
    assert result.expires_at == world.clock.now + tokens.ACCESS_TOKEN_TTL_S


@pytest.mark.parametrize("part", ["signature", "payload"])
def test_a_tampered_access_token_is_refused(world: World, part: str) -> None:
    world.register("ada@example.com")
    pair = world.login("ada@example.com")
    assert world.authenticator.authenticate(_bearer(pair)).caller.user_id == world.accounts["ada@example.com"]
    forged = _tampered(pair.access_token, part)
    assert forged != pair.access_token
    with pytest.raises(UnauthenticatedError, match="not valid"):
        world.authenticator.authenticate({"Authorization": f"Bearer {forged}"})
    assert world.keys.rereads == 0  # refused for what it is: no re-read of the key set


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Basic YWRhOnBhc3M="}, {"Authorization": "Bearer"}]
)
def test_requests_without_usable_credentials_are_refused(world: World, headers: dict[str, str]) -> None:
    with pytest.raises(UnauthenticatedError):
        world.authenticator.authenticate(headers)


def test_a_token_signed_by_a_key_rotated_in_after_caching_verifies(world: World) -> None:
    world.register("ada@example.com")
    pair = world.login("ada@example.com")  # the verifier has cached the key set
    world.keys.keys = rotated = KEYS.rotated()  # the store holds the new set; the cache does not yet
    fresh = world.service.login("ada@example.com", PASSWORD, IP)
    assert jwt.get_unverified_header(fresh.access_token)["kid"] == rotated.active_kid != KEYS.active_kid
    assert (
        world.authenticator.authenticate(_bearer(fresh)).caller.user_id == world.accounts["ada@example.com"]
    )
    assert world.keys.rereads == 1
    assert world.authenticator.authenticate(_bearer(pair)).caller.user_id  # the old key still counts


def test_a_made_up_key_id_is_refused_after_one_reread(world: World) -> None:
    stranger = KEYS.rotated()
    forged = tokens.issue_access_token(stranger, issuer=ISS, audience=AUD, user_id="u1", session_id="s1")
    with pytest.raises(UnauthenticatedError, match="unknown key"):
        world.authenticator.authenticate({"Authorization": f"Bearer {forged}"})
    assert world.keys.rereads == 1  # (how often the real store re-reads: tests/unit/test_auth_adapters.py)
