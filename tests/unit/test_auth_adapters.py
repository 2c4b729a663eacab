"""The auth domain's adapters against moto: what the tables, secrets, API Gateway and Step Functions hold
(key layout, only hashes stored), AWS failures as 503s, the key stores' caching, and the maintenance
command. Behaviour shared with the fakes is held in tests/contract/test_auth_ports.py; the use cases are
tested on fakes in tests/logic/test_auth_*.py."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
from moto import mock_aws

from functions.analytics.profiles import ProfileTable
from functions.auth import usage_backfill
from functions.auth.dal import ApiKeyTable, FailureCounterTable, SessionTable, UserTable
from functions.auth.keystores import KeyStore, PublicKeyStore
from functions.auth.models import ApiKeyRecord, ProfileRecord, RefreshRecord, SessionRecord, UserRecord
from functions.auth.usage import usage_key
from functions.auth.workflow import StepFunctionsRegistration
from functions.shared import aws
from functions.shared.api import status_for
from functions.shared.dynamo import from_item
from functions.shared.errors import DependencyUnavailableError
from functions.shared.keyset import new_keyset
from infra.local import dynamodb as atomic_dynamodb
from infra.local.provision import _table_request
from infra.topology import TOPOLOGY

AUTH_TABLE, ANALYTICS_TABLE = "skyreel-auth", "skyreel-analytics"
KEYS = new_keyset()
SECRET, PUBLIC_SECRET, SALT_SECRET = "skyreel/jwt_signing_keys", "skyreel/jwt_public_keys", "skyreel/salt"
PLANS = {"free": "skyreel-free", "pro": "skyreel-pro"}


@pytest.fixture
def cloud() -> Iterator[None]:
    with mock_aws():
        aws.reset_clients()
        ddb = boto3.client("dynamodb")
        ddb.create_table(**_table_request(TOPOLOGY.table("auth"), AUTH_TABLE))
        ddb.create_table(**_table_request(TOPOLOGY.table("analytics"), ANALYTICS_TABLE))
        secrets = boto3.client("secretsmanager")
        secrets.create_secret(Name=SECRET, SecretString=KEYS.to_json())
        secrets.create_secret(Name=PUBLIC_SECRET, SecretString=KEYS.public_jwks_json())
        secrets.create_secret(Name=SALT_SECRET, SecretString="salt-for-tests")
        for name in PLANS.values():
            boto3.client("apigateway").create_usage_plan(name=name)
        yield
    aws.reset_clients()


def scan(table: str = AUTH_TABLE) -> list[dict[str, Any]]:
    pages = boto3.client("dynamodb").get_paginator("scan").paginate(TableName=table, ConsistentRead=True)
    return [from_item(i) for page in pages for i in page["Items"]]


def keys_of(table: str = AUTH_TABLE) -> set[tuple[str, str]]:
    return {(i["pk"], i["sk"]) for i in scan(table)}


# --- the auth table's layout --------------------------------------------------------------------------


def test_a_user_is_its_item_and_an_email_lock_pointing_at_it(cloud: None) -> None:
    users = UserTable(AUTH_TABLE)
    user = UserRecord(id="u1", email="ada@example.com", password_hash="$argon2id$h", created_at="t")
    assert users.create_user(user)
    assert keys_of() == {("USER#u1", "USER"), ("EMAIL#ada@example.com", "EMAIL")}
    [lock] = [i for i in scan() if i["sk"] == "EMAIL"]
    assert lock == {"pk": "EMAIL#ada@example.com", "sk": "EMAIL", "user_id": "u1"}
    assert not users.create_user(user.model_copy(update={"id": "u2"}))
    assert keys_of() == {("USER#u1", "USER"), ("EMAIL#ada@example.com", "EMAIL")}  # atomically refused


def test_profiles_pending_registrations_and_sessions_keys(cloud: None) -> None:
    users, sessions = UserTable(AUTH_TABLE), SessionTable(AUTH_TABLE)
    users.put_profile(ProfileRecord(user_id="u1", quota_bytes=5, plan="free", created_at="t"))
    sessions.create_session(
        SessionRecord(id="s1", user_id="u1", expires_at=9),
        RefreshRecord(fingerprint="f" * 64, user_id="u1", session_id="s1", expires_at=9),
    )
    assert keys_of() == {
        ("USER#u1", "PROFILE"),
        ("SESSION#s1", "SESSION"),
        (f"REFRESH#{'f' * 64}", "REFRESH"),
    }
    [profile] = [i for i in scan() if i["sk"] == "PROFILE"]
    assert profile == {"pk": "USER#u1", "sk": "PROFILE", "quota_bytes": 5, "plan": "free", "created_at": "t"}


def test_an_api_key_is_stored_twice_by_hash_never_by_value(cloud: None) -> None:
    record = ApiKeyRecord(
        id="k1",
        user_id="u1",
        name="ci",
        prefix="skr_0123abcd",
        fingerprint="a" * 64,
        scopes=["search"],
        created_at="t",
    )
    ApiKeyTable(AUTH_TABLE).create_api_key(record)
    assert keys_of() == {("USER#u1", "APIKEY#k1"), (f"APIKEY#{'a' * 64}", "APIKEY")}
    for item in scan():
        assert item["fingerprint"] == "a" * 64
        assert "key" not in item


def test_failure_slots_taken_in_parallel_on_dynamodb_let_one_through(
    cloud: None, request: pytest.FixtureRequest
) -> None:
    """12 attempts that read the same counter: DynamoDB's conditional write lets exactly one count."""
    uninstall = atomic_dynamodb.install()  # DynamoDB applies a condition atomically; moto only with this
    request.addfinalizer(uninstall)
    counters = FailureCounterTable(AUTH_TABLE)
    counters.take_failure_slot("account#a", None, now=100, expires_at=200)
    seen = counters.failure_counter("account#a")
    all_in = threading.Barrier(12)

    def attempt(_: int) -> bool:
        all_in.wait()
        return counters.take_failure_slot("account#a", seen, now=101, expires_at=201)

    with ThreadPoolExecutor(12) as pool:
        won = list(pool.map(attempt, range(12)))
    assert won.count(True) == 1
    counter = counters.failure_counter("account#a")
    assert counter is not None
    assert counter.failures == 2


# --- the analytics domain's profile -------------------------------------------------------------------


def test_the_analytics_profile_is_the_analytics_domains_item(cloud: None) -> None:
    ProfileTable(ANALYTICS_TABLE).create("u1", "2024-01-01T00:00:00.000Z")
    assert scan(ANALYTICS_TABLE) == [
        {"pk": "USER#u1", "sk": "PROFILE", "created_at": "2024-01-01T00:00:00.000Z", "videos": 0, "views": 0}
    ]


# --- failures of what we depend on -------------------------------------------------------------------------


def test_a_store_that_does_not_answer_is_a_503(cloud: None) -> None:
    with pytest.raises(DependencyUnavailableError, match="the auth table") as down:
        UserTable("no-such-table").get_user("u1")
    assert status_for(down.value) == 503
    with pytest.raises(DependencyUnavailableError, match="the auth table"):
        FailureCounterTable("no-such-table").take_failure_slot("s", None, now=1, expires_at=2)
    with pytest.raises(DependencyUnavailableError, match="Secrets Manager"):
        KeyStore("no-such-secret").keyset()
    with pytest.raises(DependencyUnavailableError, match="the analytics table"):
        ProfileTable("no-such-table").create("u1", "2024-01-01T00:00:00Z")
    with pytest.raises(DependencyUnavailableError, match="Step Functions"):
        StepFunctionsRegistration("arn:aws:states:us-east-1:123456789012:stateMachine:none").start("u1")


# --- key stores ---------------------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_public_store_rereads_at_most_once_a_second_and_after_its_ttl(
    cloud: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock()
    store = PublicKeyStore(PUBLIC_SECRET, ttl_s=300, clock=clock)
    reads: list[float] = []
    real_read = store._read

    def counted_read() -> None:
        reads.append(clock())
        real_read()

    monkeypatch.setattr(store, "_read", counted_read)
    store.jwks()
    store.jwks()
    assert len(reads) == 1  # cached
    for _ in range(5):  # a flood of unknown key ids: one re-read, then none within the second
        store.refreshed_jwks()
    assert len(reads) == 1
    clock.now += 1
    store.refreshed_jwks()
    assert len(reads) == 2
    clock.now += 300
    store.jwks()
    assert len(reads) == 3  # the TTL passed


def test_a_public_jwks_with_private_material_is_refused_at_read(cloud: None) -> None:
    boto3.client("secretsmanager").put_secret_value(SecretId=PUBLIC_SECRET, SecretString=KEYS.to_json())
    with pytest.raises(ValueError, match=r"RSA JWK|list of keys|private"):
        PublicKeyStore(PUBLIC_SECRET).jwks()


# --- Step Functions --------------------------------------------------------------------------------------


def test_the_workflow_starts_with_the_id_alone_and_reads_the_outcome(cloud: None) -> None:
    sfn = boto3.client("stepfunctions")
    arn = sfn.create_state_machine(
        name="registration",
        # A wait, so the execution is still running when read whether or not moto executes definitions
        # (a local cloud started earlier in this process turns moto's execution on).
        definition=json.dumps(
            {"StartAt": "A", "States": {"A": {"Type": "Wait", "Seconds": 600, "End": True}}}
        ),
        roleArn="arn:aws:iam::123456789012:role/registration",
    )["stateMachineArn"]
    workflow = StepFunctionsRegistration(arn)
    execution = workflow.start("u1")
    described = sfn.describe_execution(executionArn=execution)
    assert (described["name"], json.loads(described["input"])) == ("u1", {"user_id": "u1"})
    assert workflow.outcome(execution) is None  # still running
    sfn.stop_execution(executionArn=execution, error="EmailTaken")
    deadline = time.monotonic() + 5  # an executing moto stops the run in its own thread
    while (outcome := workflow.outcome(execution)) is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert outcome is not None
    assert outcome.status == "ABORTED"


# --- the backfill command ----------------------------------------------------------------------------------


def test_the_backfill_command_gives_every_account_its_key(
    cloud: None, capsys: pytest.CaptureFixture[str]
) -> None:
    users = UserTable(AUTH_TABLE)
    users.put_profile(ProfileRecord(user_id="old1", quota_bytes=1, plan="free", created_at="t"))
    users.put_profile(ProfileRecord(user_id="old2", quota_bytes=1, plan="pro", created_at="t"))
    argv = ["--table", AUTH_TABLE, "--salt-secret-id", SALT_SECRET, "--plans", json.dumps(PLANS)]
    for _ in range(2):  # idempotent
        assert usage_backfill.main(argv) == 0
    assert "checked for 2 accounts" in capsys.readouterr().out
    apigw = boto3.client("apigateway")
    keys = {k["name"]: k for k in apigw.get_api_keys(includeValues=True)["items"]}
    assert set(keys) == {"account-old1", "account-old2"}
    assert keys["account-old1"]["value"] == usage_key("salt-for-tests", "old1")
    plan_of = {name: apigw.get_usage_plans(keyId=k["id"])["items"][0]["name"] for name, k in keys.items()}
    assert plan_of == {"account-old1": "skyreel-free", "account-old2": "skyreel-pro"}
