"""The auth ports' contract: ONE set of assertions, run on each in-memory fake (tests/fakes/auth.py) and on
its real adapter against moto (`mock_aws`), so a fake cannot drift from what it stands for."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from functions.analytics.profiles import ProfileTable
from functions.auth.dal import ApiKeyTable, FailureCounterTable, SessionTable, UserTable
from functions.auth.keystores import KeyStore, PublicKeyStore
from functions.auth.models import (
    ApiKeyRecord,
    ProfileRecord,
    RefreshRecord,
    RegistrationInput,
    SessionRecord,
    UserRecord,
)
from functions.auth.ports import (
    AnalyticsProfiles,
    ApiKeys,
    FailureCounters,
    Sessions,
    SigningKeys,
    UsageKeys,
    Users,
    VerifyingKeys,
)
from functions.auth.throttle import FailureCounter
from functions.auth.usage_plans import UsageKeys as GatewayUsageKeys
from functions.shared import aws
from functions.shared.keyset import KeySet, new_keyset
from infra.local.provision import _table_request  # the local cloud's own table builder
from infra.topology import TOPOLOGY
from tests.fakes.auth import (
    FakeAnalyticsProfiles,
    FakeApiKeys,
    FakeFailureCounters,
    FakeSessions,
    FakeSigningKeys,
    FakeUsageKeys,
    FakeUsers,
)

AUTH_TABLE, ANALYTICS_TABLE = "skyreel-auth", "skyreel-analytics"
PLANS = {"free": "skyreel-free", "pro": "skyreel-pro"}
KEYS = new_keyset()
SIGNING_SECRET, PUBLIC_SECRET = "skyreel/jwt_signing_keys", "skyreel/jwt_public_keys"

IMPLEMENTATIONS = ["fake", "adapter"]


@pytest.fixture
def cloud() -> Iterator[None]:
    """moto with the auth and analytics tables as the topology declares them, usage plans, key secrets."""
    with mock_aws():
        aws.reset_clients()
        ddb = boto3.client("dynamodb")
        ddb.create_table(**_table_request(TOPOLOGY.table("auth"), AUTH_TABLE))
        ddb.create_table(**_table_request(TOPOLOGY.table("analytics"), ANALYTICS_TABLE))
        for name in PLANS.values():
            boto3.client("apigateway").create_usage_plan(name=name)
        secrets = boto3.client("secretsmanager")
        secrets.create_secret(Name=SIGNING_SECRET, SecretString=KEYS.to_json())
        secrets.create_secret(Name=PUBLIC_SECRET, SecretString=KEYS.public_jwks_json())
        yield
    aws.reset_clients()


def _pick(request: pytest.FixtureRequest, fake: Callable[[], Any], adapter: Callable[[], Any]) -> Any:
    if request.param == "fake":
        return fake()
    request.getfixturevalue("cloud")
    return adapter()


@pytest.fixture(params=IMPLEMENTATIONS)
def users(request: pytest.FixtureRequest) -> Users:
    return _pick(request, FakeUsers, lambda: UserTable(AUTH_TABLE))  # type: ignore[no-any-return]


@pytest.fixture(params=IMPLEMENTATIONS)
def sessions(request: pytest.FixtureRequest) -> Sessions:
    return _pick(request, FakeSessions, lambda: SessionTable(AUTH_TABLE))  # type: ignore[no-any-return]


@pytest.fixture(params=IMPLEMENTATIONS)
def api_keys(request: pytest.FixtureRequest) -> ApiKeys:
    return _pick(request, FakeApiKeys, lambda: ApiKeyTable(AUTH_TABLE))  # type: ignore[no-any-return]


@pytest.fixture(params=IMPLEMENTATIONS)
def counters(request: pytest.FixtureRequest) -> FailureCounters:
    return _pick(request, FakeFailureCounters, lambda: FailureCounterTable(AUTH_TABLE))  # type: ignore[no-any-return]


@pytest.fixture(params=IMPLEMENTATIONS)
def usage_keys(request: pytest.FixtureRequest) -> UsageKeys:
    return _pick(  # type: ignore[no-any-return]
        request, lambda: FakeUsageKeys(PLANS), lambda: GatewayUsageKeys(PLANS, lambda: "a-salt")
    )


@pytest.fixture(params=IMPLEMENTATIONS)
def analytics(request: pytest.FixtureRequest) -> AnalyticsProfiles:
    return _pick(request, FakeAnalyticsProfiles, lambda: ProfileTable(ANALYTICS_TABLE))  # type: ignore[no-any-return]


class KeyStores:
    """A signing store and a verifying store over one key set, a way to change what is stored, and a way
    to let time pass (the adapter re-reads at most once a second)."""

    def __init__(
        self,
        signing: SigningKeys,
        verifying: VerifyingKeys,
        store: Callable[[KeySet], None],
        wait: Callable[[float], None],
    ) -> None:
        self.signing, self.verifying, self.store, self.wait = signing, verifying, store, wait


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(params=IMPLEMENTATIONS)
def key_stores(request: pytest.FixtureRequest) -> KeyStores:
    def fake() -> KeyStores:
        keys = FakeSigningKeys(KEYS)

        def store(new: KeySet) -> None:
            keys.keys = new

        return KeyStores(keys, keys, store, lambda seconds: None)

    def adapter() -> KeyStores:
        def store(new: KeySet) -> None:
            secrets = boto3.client("secretsmanager")
            secrets.put_secret_value(SecretId=PUBLIC_SECRET, SecretString=new.public_jwks_json())
            secrets.put_secret_value(SecretId=SIGNING_SECRET, SecretString=new.to_json())

        clock = Clock()
        return KeyStores(
            KeyStore(SIGNING_SECRET, clock=clock),
            PublicKeyStore(PUBLIC_SECRET, clock=clock),
            store,
            clock.advance,
        )

    return _pick(request, fake, adapter)  # type: ignore[no-any-return]


def _user(user_id: str = "u1", email: str = "ada@example.com") -> UserRecord:
    return UserRecord(
        id=user_id, email=email, display_name="Ada", password_hash="$argon2id$h", created_at="t"
    )


# --- Users ----------------------------------------------------------------------------------------------


def test_users_create_find_and_lock_the_email(users: Users) -> None:
    assert users.create_user(_user())
    assert users.create_user(_user())  # idempotent for the same user
    assert users.get_user("u1") == _user()
    assert users.find_user_by_email("ada@example.com") == _user()
    assert not users.create_user(_user("u2"))  # the email is u1's
    assert users.get_user("u2") is None  # and nothing of u2 was written
    assert users.find_user_by_email("nobody@example.com") is None


def test_users_delete_spares_another_users_lock(users: Users) -> None:
    users.create_user(_user("u1"))
    users.delete_user("u2", "ada@example.com")
    assert users.find_user_by_email("ada@example.com") == _user("u1")
    users.delete_user("u1", "ada@example.com")
    users.delete_user("u1", "ada@example.com")  # idempotent
    assert users.get_user("u1") is None
    assert users.find_user_by_email("ada@example.com") is None
    assert users.create_user(_user("u2"))  # the email is free again


def test_users_password_hash_can_be_replaced(users: Users) -> None:
    users.create_user(_user())
    users.set_password_hash("u1", "$argon2id$new")
    found = users.get_user("u1")
    assert found is not None
    assert found.password_hash == "$argon2id$new"


def test_users_profiles(users: Users) -> None:
    assert users.get_profile("u1") is None
    profile = ProfileRecord(user_id="u1", quota_bytes=5, plan="free", created_at="t")
    users.put_profile(profile)
    users.put_profile(ProfileRecord(user_id="u2", quota_bytes=7, plan=None, created_at="t"))
    assert users.get_profile("u1") == profile
    assert sorted(users.profiles(), key=lambda p: p.user_id) == [
        profile,
        ProfileRecord(user_id="u2", quota_bytes=7, plan=None, created_at="t"),
    ]
    users.delete_profile("u1")
    users.delete_profile("u1")
    assert users.get_profile("u1") is None
    assert [p.user_id for p in users.profiles()] == ["u2"]


def test_users_pending_registrations(users: Users) -> None:
    pending = RegistrationInput(user_id="u1", email="a@example.com", password_hash="$h", created_at="t")
    assert users.get_pending_registration("u1") is None
    users.put_pending_registration(pending, expires_at=123)
    assert users.get_pending_registration("u1") == pending
    users.delete_pending_registration("u1")
    users.delete_pending_registration("u1")
    assert users.get_pending_registration("u1") is None


# --- Sessions -------------------------------------------------------------------------------------------


def _refresh(fingerprint: str, session_id: str = "s1") -> RefreshRecord:
    return RefreshRecord(fingerprint=fingerprint, user_id="u1", session_id=session_id, expires_at=99)


def test_sessions_create_and_revoke(sessions: Sessions) -> None:
    session = SessionRecord(id="s1", user_id="u1", expires_at=99)
    sessions.create_session(session, _refresh("f1"))
    assert sessions.get_session("s1") == session
    assert sessions.get_refresh_token("f1") == _refresh("f1")
    sessions.revoke_session("s1")
    sessions.revoke_session("s1")
    assert sessions.get_session("s1") == session.model_copy(update={"revoked": True})
    sessions.revoke_session("unknown")
    assert sessions.get_session("unknown") is None  # revoking makes no session
    assert sessions.get_refresh_token("nope") is None


def test_sessions_rotate_a_refresh_token_once(sessions: Sessions) -> None:
    sessions.create_session(SessionRecord(id="s1", user_id="u1", expires_at=99), _refresh("f1"))
    first = _refresh("f1")
    assert sessions.rotate_refresh_token(first, _refresh("f2"))
    assert sessions.get_refresh_token("f1") == first.model_copy(update={"used": True})
    assert sessions.get_refresh_token("f2") == _refresh("f2")
    # The same (stale, unspent-looking) record again: refused, and nothing new is stored.
    assert not sessions.rotate_refresh_token(first, _refresh("f3"))
    assert sessions.get_refresh_token("f3") is None
    assert not sessions.rotate_refresh_token(_refresh("never-stored"), _refresh("f4"))
    assert sessions.get_refresh_token("f4") is None


# --- API keys ---------------------------------------------------------------------------------------------


def _api_key(
    key_id: str = "k1", user_id: str = "u1", created_at: str = "2024-01-01T00:00:00.000Z"
) -> ApiKeyRecord:
    return ApiKeyRecord(
        id=key_id,
        user_id=user_id,
        name="ci",
        prefix="skr_0123abcd",
        fingerprint=f"fp-{key_id}",
        scopes=["search"],
        created_at=created_at,
    )


def test_api_keys_create_find_and_list(api_keys: ApiKeys) -> None:
    api_keys.create_api_key(_api_key("k1"))
    api_keys.create_api_key(_api_key("k2"))
    api_keys.create_api_key(_api_key("k3", user_id="u2"))
    assert api_keys.get_api_key("u1", "k1") == _api_key("k1")
    assert api_keys.get_api_key("u2", "k1") is None  # another user's key is not found under yours
    assert api_keys.find_api_key("fp-k2") == _api_key("k2")
    assert api_keys.find_api_key("fp-unknown") is None
    assert sorted(k.id for k in api_keys.api_keys_of("u1")) == ["k1", "k2"]
    assert api_keys.api_keys_of("nobody") == []


def test_api_keys_revoke_marks_both_copies_and_lists_it_still(api_keys: ApiKeys) -> None:
    record = _api_key()
    api_keys.create_api_key(record)
    api_keys.revoke_api_key(record, "2024-02-01T00:00:00.000Z")
    revoked = record.model_copy(update={"revoked_at": "2024-02-01T00:00:00.000Z"})
    assert api_keys.get_api_key("u1", "k1") == revoked
    assert api_keys.find_api_key("fp-k1") == revoked
    assert api_keys.api_keys_of("u1") == [revoked]  # the port lists all; the logic filters


def test_api_keys_touch_only_when_not_recent(api_keys: ApiKeys) -> None:
    record = _api_key()
    api_keys.create_api_key(record)
    api_keys.touch_api_key(record, used_at="2024-01-01T00:01:00.000Z", not_since="2024-01-01T00:00:00.000Z")
    api_keys.touch_api_key(record, used_at="2024-01-01T00:01:30.000Z", not_since="2024-01-01T00:00:30.000Z")
    for found in (api_keys.get_api_key("u1", "k1"), api_keys.find_api_key("fp-k1")):
        assert found is not None
        assert found.last_used_at == "2024-01-01T00:01:00.000Z"  # the second was too soon
    api_keys.touch_api_key(record, used_at="2024-01-01T00:02:00.000Z", not_since="2024-01-01T00:01:00.001Z")
    found = api_keys.find_api_key("fp-k1")
    assert found is not None
    assert found.last_used_at == "2024-01-01T00:02:00.000Z"
    api_keys.touch_api_key(_api_key("gone"), used_at="x", not_since="w")  # an unknown key: no item is made
    assert api_keys.find_api_key("fp-gone") is None
    assert api_keys.get_api_key("u1", "gone") is None


# --- failure counters ---------------------------------------------------------------------------------


def test_counters_count_by_compare_and_set(counters: FailureCounters) -> None:
    assert counters.failure_counter("s") is None
    assert counters.take_failure_slot("s", None, now=100, expires_at=200)
    assert counters.failure_counter("s") == FailureCounter(1, 100, 200)
    assert not counters.take_failure_slot("s", None, now=101, expires_at=201)  # it exists now
    seen = counters.failure_counter("s")
    assert counters.take_failure_slot("s", seen, now=102, expires_at=202)
    assert not counters.take_failure_slot("s", seen, now=103, expires_at=203)  # stale: it moved on
    assert counters.failure_counter("s") == FailureCounter(2, 102, 202)


def test_counters_an_expired_counter_is_replaced_not_counted_on(counters: FailureCounters) -> None:
    counters.take_failure_slot("s", None, now=100, expires_at=200)
    seen = counters.failure_counter("s")
    assert counters.failure_counter("s") == FailureCounter(1, 100, 200)  # read as stored, expired or not
    assert not counters.take_failure_slot("s", seen, now=201, expires_at=301)  # past its window
    assert counters.take_failure_slot("s", None, now=201, expires_at=301)
    assert counters.failure_counter("s") == FailureCounter(1, 201, 301)


def test_counters_restart_release_and_clear(counters: FailureCounters) -> None:
    counters.restart_lock("s", now=500)  # no counter: nothing is made
    assert counters.failure_counter("s") is None
    counters.take_failure_slot("s", None, now=100, expires_at=200)
    counters.take_failure_slot("s", counters.failure_counter("s"), now=101, expires_at=201)
    counters.restart_lock("s", now=150)
    counters.restart_lock("s", now=120)  # never moves back
    assert counters.failure_counter("s") == FailureCounter(2, 150, 201)
    counters.release_failure_slot("s")
    assert counters.failure_counter("s") == FailureCounter(1, 150, 201)
    counters.release_failure_slot("s")  # the last slot takes the counter with it
    assert counters.failure_counter("s") is None
    counters.release_failure_slot("s")  # nothing to release: no negative count appears
    assert counters.failure_counter("s") is None
    counters.take_failure_slot("s", None, now=100, expires_at=200)
    counters.clear_failures("s")
    counters.clear_failures("s")
    assert counters.failure_counter("s") is None


# --- usage keys -------------------------------------------------------------------------------------------


def test_usage_keys_offer_the_plans_in_order(usage_keys: UsageKeys) -> None:
    assert usage_keys.plan_ids() == ["free", "pro"]


def _plan_of(usage_keys: UsageKeys, user_id: str) -> str | None:
    """The plan the account's key is on, read where each implementation keeps it."""
    if isinstance(usage_keys, FakeUsageKeys):
        return usage_keys.plan_of.get(user_id)
    apigw = boto3.client("apigateway")
    keys = [k for k in apigw.get_api_keys(includeValues=True)["items"] if k["name"] == f"account-{user_id}"]
    if not keys:
        return None
    plans = apigw.get_usage_plans(keyId=keys[0]["id"])["items"]
    by_name = {name: plan_id for plan_id, name in PLANS.items()}
    return by_name[plans[0]["name"]] if plans else None


def test_usage_keys_ensure_and_remove_are_idempotent(usage_keys: UsageKeys) -> None:
    assert _plan_of(usage_keys, "u1") is None
    for _ in range(2):
        usage_keys.ensure("u1", "free")
    assert _plan_of(usage_keys, "u1") == "free"
    usage_keys.ensure("u2", "pro")
    assert _plan_of(usage_keys, "u2") == "pro"
    for _ in range(2):
        usage_keys.remove("u1")
    assert _plan_of(usage_keys, "u1") is None
    assert _plan_of(usage_keys, "u2") == "pro"
    usage_keys.remove("never-had-one")


# --- analytics profiles -------------------------------------------------------------------------------


def test_analytics_profiles_create_and_delete_idempotently(analytics: AnalyticsProfiles) -> None:
    for _ in range(2):
        analytics.create("u1", "2024-01-01T00:00:00.000Z")
    assert analytics.exists("u1")  # type: ignore[attr-defined]
    for _ in range(2):
        analytics.delete("u1")
    assert not analytics.exists("u1")  # type: ignore[attr-defined]


# --- key stores -------------------------------------------------------------------------------------------


def test_key_stores_sign_with_the_set_and_publish_only_its_public_half(key_stores: KeyStores) -> None:
    assert key_stores.signing.keyset() == KEYS
    assert key_stores.verifying.jwks() == KEYS.jwks()
    assert all("d" not in key for key in key_stores.verifying.jwks()["keys"])


def test_key_stores_a_refreshed_read_sees_a_rotation(key_stores: KeyStores) -> None:
    key_stores.verifying.jwks()  # cached now
    rotated = KEYS.rotated()
    key_stores.store(rotated)
    assert key_stores.verifying.jwks() == KEYS.jwks()  # the cache still holds the old set
    key_stores.wait(2)
    assert key_stores.verifying.refreshed_jwks() == rotated.jwks()
