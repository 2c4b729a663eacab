"""The auth service and its data layer against moto (mock_aws): registration and its saga steps, sessions,
throttling, refresh rotation, API keys and token verification, checked on what the tables hold.

Tables are created from the topology's own declarations, as the local cloud creates them. argon2 runs with
cheap parameters here (the shipped ones cost ~150 ms a hash, on purpose); the rehash test relies on these
differing from the parameters a stored hash was made with, exactly as a production parameter change would.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import jwt
import pytest
from argon2 import PasswordHasher
from moto import mock_aws

from functions.auth import passwords, registration, settings, throttle, tokens, usage_backfill
from functions.auth.dal import (
    AnalyticsProfiles,
    AuthRepository,
    EmailTakenError,
    KeyStore,
    RegistrationFailedError,
    RegistrationWorkflow,
)
from functions.auth.logic import FREE_QUOTA_BYTES, AuthService, RegistrationSteps
from functions.auth.models import ApiKeyRequest, RegisterRequest, RegistrationInput, TokenPair
from functions.auth.usage import usage_key
from functions.shared import aws
from functions.shared.api import status_for
from functions.shared.dynamo import from_item
from functions.shared.errors import (
    DependencyUnavailableError,
    NotFoundError,
    ThrottledError,
    UnauthenticatedError,
    ValidationFailedError,
)
from functions.shared.events import EventPublisher
from functions.shared.keyset import new_keyset
from functions.shared.observability import metrics
from infra.local import dynamodb as atomic_dynamodb
from infra.local.provision import _table_request  # the local cloud's own table builder
from infra.topology import TOPOLOGY

ROOT = Path(__file__).resolve().parents[2]
KEYS = new_keyset()  # RSA generation is slow: one set for the module
ISS, AUD = "skyreel", "skyreel-api"
AUTH_TABLE, ANALYTICS_TABLE = "skyreel-auth", "skyreel-analytics"
SECRET, BUS = "skyreel/jwt_signing_keys", "skyreel-events"
SALT_SECRET, PLAN_NAME = "skyreel/usage_key_salt", "skyreel-free"
MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:skyreel-registration"
PASSWORD = "a long enough passphrase"
IP = "192.0.2.10"
CHEAP = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


class Clock:
    """The service's clock, moved by hand. Starts at the real time: the throttle's expiry uses it too."""

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


class InProcessStepFunctions:
    """Just enough of Step Functions to run the shipped registration definition in this process.

    A Task invokes the real registration handler (so its error names are the real ones); a failed task
    goes to its first Catch that names the error or `States.ALL`, with the error at the Catch's
    ResultPath. Retries are skipped: every failure here is injected and permanent. `describe_execution`
    answers as the real service does, which is what RegistrationWorkflow reads.
    """

    def __init__(self) -> None:
        self.definition = json.loads((ROOT / "infra/workflows/registration.asl.json").read_text())
        self.executions: dict[str, dict[str, Any]] = {}
        self.visited: list[str] = []

    def start_execution(self, stateMachineArn: str, name: str, input: str) -> dict[str, str]:
        data: dict[str, Any] = json.loads(input)
        state = self.definition["StartAt"]
        while True:
            spec = self.definition["States"][state]
            self.visited.append(state)
            if spec["Type"] == "Succeed":
                outcome = {"status": "SUCCEEDED"}
                break
            if spec["Type"] == "Fail":
                outcome = {"status": "FAILED", "error": spec["Error"], "cause": spec["Cause"]}
                break
            assert spec["Type"] == "Task", spec
            event = {"step": spec["Parameters"]["step"], "registration": data}
            try:
                registration.lambda_handler(event, LambdaContext())  # type: ignore[arg-type]
            except Exception as exc:
                error = type(exc).__name__
                catch = next(c for c in spec["Catch"] if {error, "States.ALL"} & set(c["ErrorEquals"]))
                path = catch.get("ResultPath", "$")
                failure = {"Error": error, "Cause": str(exc)}
                data = failure if path == "$" else {**data, path.removeprefix("$."): failure}
                state = catch["Next"]
                continue
            state = spec["Next"]
        arn = f"{stateMachineArn.replace(':stateMachine:', ':execution:')}:{name}"
        self.executions[arn] = outcome
        return {"executionArn": arn}

    def describe_execution(self, executionArn: str) -> dict[str, Any]:
        return self.executions[executionArn]


@dataclass
class Env:
    service: AuthService
    steps: RegistrationSteps
    repo: AuthRepository
    clock: Clock
    sfn: InProcessStepFunctions
    events_queue: str
    users: dict[str, str] = field(default_factory=dict)  # email -> user id

    def register(self, email: str, password: str = PASSWORD) -> str:
        """An account made by the saga's steps directly (fast; registration itself is tested below)."""
        user_id = f"user-{len(self.users) + 1}"
        self.steps.create_user(
            RegistrationInput(
                user_id=user_id,
                email=email,
                password_hash=passwords.hash_password(password),
                created_at="2024-01-01T00:00:00Z",
            )
        )
        self.users[email] = user_id
        return user_id

    def login(self, email: str, password: str = PASSWORD, ip: str = IP) -> TokenPair:
        return self.service.login(email, password, ip)


@pytest.fixture(autouse=True)
def cheap_argon2(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(passwords, "_hasher", CHEAP)
    passwords._dummy_hash.cache_clear()  # made again with the cheap hasher
    yield
    passwords._dummy_hash.cache_clear()


def _clear_caches() -> None:
    aws.reset_clients()
    settings.settings.cache_clear()
    settings.service.cache_clear()
    settings.usage_key_salt.cache_clear()
    settings.usage_keys.cache_clear()
    registration._steps.cache_clear()


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    with mock_aws():
        _clear_caches()
        ddb = boto3.client("dynamodb")
        ddb.create_table(**_table_request(TOPOLOGY.table("auth"), AUTH_TABLE))
        ddb.create_table(**_table_request(TOPOLOGY.table("analytics"), ANALYTICS_TABLE))
        boto3.client("secretsmanager").create_secret(Name=SECRET, SecretString=KEYS.to_json())
        boto3.client("secretsmanager").create_secret(Name=SALT_SECRET, SecretString="salt-for-tests")
        boto3.client("apigateway").create_usage_plan(
            name=PLAN_NAME, throttle={"rateLimit": 5, "burstLimit": 5}
        )
        # Whatever reaches the bus lands in a queue the tests read.
        sqs = boto3.client("sqs")
        queue = sqs.create_queue(QueueName="captured-events")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        events = boto3.client("events")
        events.create_event_bus(Name=BUS)
        events.put_rule(
            Name="everything", EventBusName=BUS, EventPattern=json.dumps({"source": ["skyreel.auth"]})
        )
        events.put_targets(Rule="everything", EventBusName=BUS, Targets=[{"Id": "queue", "Arn": queue_arn}])
        for name, value in {
            "AUTH_TABLE_NAME": AUTH_TABLE,
            "ANALYTICS_TABLE_NAME": ANALYTICS_TABLE,
            "EVENTS_EVENT_BUS_NAME": BUS,
            "JWT_SIGNING_KEYS_SECRET_ID": SECRET,
            "USAGE_KEY_SALT_SECRET_ID": SALT_SECRET,
            "USAGE_PLANS": json.dumps({"free": PLAN_NAME}),
        }.items():
            monkeypatch.setenv(name, value)
        sfn = InProcessStepFunctions()
        monkeypatch.setattr(aws, "stepfunctions", lambda: sfn)
        clock = Clock()
        repo = AuthRepository(AUTH_TABLE)
        yield Env(
            service=AuthService(repo, KeyStore(SECRET, clock=clock), ISS, AUD, clock=clock),
            steps=RegistrationSteps(repo, AnalyticsProfiles(ANALYTICS_TABLE), EventPublisher(BUS, "auth")),
            repo=repo,
            clock=clock,
            sfn=sfn,
            events_queue=queue,
        )
        _clear_caches()


# --- reading what the stores hold ---------------------------------------------------------------------


def scan(table: str) -> list[dict[str, Any]]:
    pages = boto3.client("dynamodb").get_paginator("scan").paginate(TableName=table, ConsistentRead=True)
    return [from_item(i) for page in pages for i in page["Items"]]


def stored(pk: str, sk: str, table: str = AUTH_TABLE) -> dict[str, Any] | None:
    item = boto3.client("dynamodb").get_item(
        TableName=table, Key={"pk": {"S": pk}, "sk": {"S": sk}}, ConsistentRead=True
    )
    return from_item(item["Item"]) if "Item" in item else None


def published(env: Env) -> list[dict[str, Any]]:
    messages = boto3.client("sqs").receive_message(
        QueueUrl=env.events_queue, MaxNumberOfMessages=10, WaitTimeSeconds=0
    )
    return [json.loads(m["Body"]) for m in messages.get("Messages", [])]


def usage_plan_of(user_id: str) -> str | None:
    """The name of the usage plan the account's metering key is on (None: no key)."""
    apigw = boto3.client("apigateway")
    keys = [k for k in apigw.get_api_keys(includeValues=True)["items"] if k["name"] == f"account-{user_id}"]
    if not keys:
        return None
    assert keys[0]["value"] == usage_key("salt-for-tests", user_id)
    plans = apigw.get_usage_plans(keyId=keys[0]["id"])["items"]
    return str(plans[0]["name"]) if plans else None


def sha256(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def failures(subject: str) -> int | None:
    item = stored(f"THROTTLE#{subject}", "THROTTLE")
    return None if item is None else int(item["failures"])


def iso(epoch: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


# --- registration through the service and the shipped saga definition -------------------------------


def register(env: Env, email: str, password: str = PASSWORD, **extra: Any) -> Any:
    return env.service.register(
        RegisterRequest(email=email, password=password, **extra), RegistrationWorkflow(MACHINE, wait_s=1)
    )


def test_register_runs_every_step_and_stores_the_account(env: Env) -> None:
    user = register(env, "ada@example.com", display_name="Ada")
    assert env.sfn.visited == [
        "CreateUser",
        "CreateProfile",
        "CreateAnalyticsProfile",
        "CreateUsageKey",
        "PublishRegistered",
        "Registered",
    ]
    # Metered from its first request: the account's key is on the default usage plan.
    assert usage_plan_of(user.id) == PLAN_NAME
    account = stored(f"USER#{user.id}", "USER")
    assert account is not None
    assert (account["email"], account["display_name"]) == ("ada@example.com", "Ada")
    assert account["password_hash"].startswith("$argon2id$")
    assert passwords.verify_password(account["password_hash"], PASSWORD)
    assert stored("EMAIL#ada@example.com", "EMAIL") == {
        "pk": "EMAIL#ada@example.com",
        "sk": "EMAIL",
        "user_id": user.id,
    }
    profile = stored(f"USER#{user.id}", "PROFILE")
    assert profile is not None
    assert (profile["quota_bytes"], profile["plan"]) == (FREE_QUOTA_BYTES, "free")
    assert stored(f"USER#{user.id}", "PROFILE", ANALYTICS_TABLE) is not None
    [event] = published(env)
    assert event["detail-type"] == "user.registered"
    assert event["detail"]["user_id"] == user.id
    # The password is nowhere, and its hash never leaves the auth table.
    everything = json.dumps([scan(AUTH_TABLE), scan(ANALYTICS_TABLE), event])
    assert PASSWORD not in everything
    assert account["password_hash"] not in json.dumps(event)
    assert user.model_dump().keys() == {"id", "email", "display_name", "created_at"}


def test_the_saga_input_holds_only_the_id(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[str] = []
    real = env.sfn.start_execution

    def recording(stateMachineArn: str, name: str, input: str) -> dict[str, str]:
        started.append(input)
        return real(stateMachineArn=stateMachineArn, name=name, input=input)

    monkeypatch.setattr(env.sfn, "start_execution", recording)
    user = register(env, "ada@example.com", display_name="Ada")
    assert [json.loads(i) for i in started] == [{"user_id": user.id}]
    assert stored(f"REGISTRATION#{user.id}", "PENDING") is None  # the pending record is gone after


def test_register_normalises_the_email_and_a_duplicate_is_a_409_that_writes_nothing(env: Env) -> None:
    first = register(env, "  Ada.Lovelace@Example.COM ")
    assert first.email == "ada.lovelace@example.com"
    assert stored("EMAIL#ada.lovelace@example.com", "EMAIL") is not None
    before = (scan(AUTH_TABLE), scan(ANALYTICS_TABLE))
    published(env)  # drain the first announcement

    with pytest.raises(EmailTakenError) as taken:
        register(env, "ADA.LOVELACE@example.com", password="another fine passphrase")
    assert status_for(taken.value) == 409
    assert taken.value.code == "conflict"
    assert env.sfn.visited[-2:] == ["CreateUser", "EmailTaken"]  # no undo: nothing of the loser was made
    assert (scan(AUTH_TABLE), scan(ANALYTICS_TABLE)) == before  # the winner's account is untouched
    assert published(env) == []


@pytest.mark.parametrize(
    ("password", "rule"),
    [("short", "at least 10"), ("password123", "most common"), ("ada.lovelace is me", "email")],
)
def test_a_weak_password_is_a_422_and_writes_nothing(env: Env, password: str, rule: str) -> None:
    with pytest.raises(ValidationFailedError) as weak:
        register(env, "ada.lovelace@example.com", password=password)
    assert status_for(weak.value) == 422
    assert any(rule in d["message"] for d in weak.value.details)
    assert env.sfn.executions == {}  # the saga never started
    assert scan(AUTH_TABLE) == scan(ANALYTICS_TABLE) == []


@pytest.mark.parametrize(
    ("step", "undone_by"),
    [
        ("create_user", ["UndoUser"]),
        ("create_profile", ["UndoProfile", "UndoUser"]),
        ("create_analytics_profile", ["UndoAnalyticsProfile", "UndoProfile", "UndoUser"]),
        ("create_usage_key", ["UndoUsageKey", "UndoAnalyticsProfile", "UndoProfile", "UndoUser"]),
        ("publish_registered", ["UndoUsageKey", "UndoAnalyticsProfile", "UndoProfile", "UndoUser"]),
    ],
)
def test_a_failing_saga_step_is_undone_and_leaves_the_tables_clean(
    env: Env, monkeypatch: pytest.MonkeyPatch, step: str, undone_by: list[str]
) -> None:
    def broken(self: RegistrationSteps, r: RegistrationInput) -> None:
        raise RuntimeError(f"injected failure in {step}")

    with monkeypatch.context() as patch:
        patch.setattr(RegistrationSteps, step, broken)
        with pytest.raises(RegistrationFailedError, match="RegistrationFailed") as failed:
            register(env, "ada@example.com")
    assert status_for(failed.value) == 503
    assert env.sfn.visited[-len(undone_by) - 1 :] == [*undone_by, "RegistrationFailed"]
    assert scan(AUTH_TABLE) == []
    assert scan(ANALYTICS_TABLE) == []
    assert boto3.client("apigateway").get_api_keys()["items"] == []  # no metering key is left either
    # Nothing was kept, so the same email registers once the fault is gone.
    assert register(env, "ada@example.com").email == "ada@example.com"


def test_an_undo_that_fails_ends_in_compensation_failed(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(self: RegistrationSteps, r: RegistrationInput) -> None:
        raise RuntimeError("injected")

    monkeypatch.setattr(RegistrationSteps, "create_analytics_profile", broken)
    monkeypatch.setattr(RegistrationSteps, "delete_profile", broken)
    with pytest.raises(RegistrationFailedError, match="CompensationFailed"):
        register(env, "ada@example.com")
    assert env.sfn.visited[-2:] == ["UndoProfile", "CompensationFailed"]


def test_a_saga_still_running_after_the_wait_is_a_503(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    class Stuck:
        def start_execution(self, **_: Any) -> dict[str, str]:
            return {"executionArn": "arn:stuck"}

        def describe_execution(self, executionArn: str) -> dict[str, str]:
            return {"status": "RUNNING"}

    monkeypatch.setattr(aws, "stepfunctions", Stuck)
    started = time.monotonic()
    with pytest.raises(RegistrationFailedError, match="taking too long"):
        env.service.register(
            RegisterRequest(email="ada@example.com", password=PASSWORD), RegistrationWorkflow(MACHINE, 0.3)
        )
    assert time.monotonic() - started < 2


# --- the saga's steps, one by one ------------------------------------------------------------------------


def _input(user_id: str = "u1", email: str = "ada@example.com") -> RegistrationInput:
    return RegistrationInput(
        user_id=user_id,
        email=email,
        display_name="Ada",
        password_hash=CHEAP.hash(PASSWORD),
        created_at="2024-01-01T00:00:00Z",
    )


def _keys(table: str) -> set[tuple[str, str]]:
    return {(i["pk"], i["sk"]) for i in scan(table)}


def test_create_user_writes_the_user_and_its_lock_and_is_idempotent(env: Env) -> None:
    env.steps.create_user(_input())
    env.steps.create_user(_input())  # a retried step is no conflict with itself
    assert _keys(AUTH_TABLE) == {("USER#u1", "USER"), ("EMAIL#ada@example.com", "EMAIL")}
    # Another user with the same email: refused, and atomically (no half-written user).
    with pytest.raises(EmailTakenError):
        env.steps.create_user(_input("u2"))
    assert _keys(AUTH_TABLE) == {("USER#u1", "USER"), ("EMAIL#ada@example.com", "EMAIL")}
    assert stored("EMAIL#ada@example.com", "EMAIL") == {
        "pk": "EMAIL#ada@example.com",
        "sk": "EMAIL",
        "user_id": "u1",
    }


def test_undoing_a_user_is_idempotent_and_spares_another_users_lock(env: Env) -> None:
    env.steps.create_user(_input("u1"))
    env.steps.delete_user(_input("u2"))  # u2 lost the race for this email: its undo must not free it
    assert _keys(AUTH_TABLE) == {("USER#u1", "USER"), ("EMAIL#ada@example.com", "EMAIL")}
    env.steps.delete_user(_input("u1"))
    env.steps.delete_user(_input("u1"))
    assert scan(AUTH_TABLE) == []


def test_profile_steps_and_their_undo(env: Env) -> None:
    r = _input()
    for _ in range(2):  # idempotent both ways
        env.steps.create_profile(r)
        env.steps.create_analytics_profile(r)
    assert _keys(AUTH_TABLE) == {("USER#u1", "PROFILE")}
    assert _keys(ANALYTICS_TABLE) == {("USER#u1", "PROFILE")}
    assert AnalyticsProfiles(ANALYTICS_TABLE).exists("u1")
    for _ in range(2):
        env.steps.delete_analytics_profile(r)
        env.steps.delete_profile(r)
    assert scan(AUTH_TABLE) == scan(ANALYTICS_TABLE) == []
    assert not AnalyticsProfiles(ANALYTICS_TABLE).exists("u1")


def test_the_usage_key_step_and_its_undo_are_idempotent(env: Env) -> None:
    steps = registration._steps()  # the handler's own wiring: the plans and salt from the environment
    r = _input()
    for _ in range(2):
        steps.create_usage_key(r)
    assert usage_plan_of("u1") == PLAN_NAME
    assert len(boto3.client("apigateway").get_api_keys()["items"]) == 1
    for _ in range(2):
        steps.delete_usage_key(r)
    assert usage_plan_of("u1") is None


def test_the_backfill_gives_every_existing_account_its_key_once(env: Env) -> None:
    """Accounts from before usage plans have no metering key, so API Gateway would refuse them: the
    backfill (run by hand in AWS, on every start locally) gives each its key on its plan, idempotently."""
    repo = AuthRepository(AUTH_TABLE)
    repo.put_profile("old1", FREE_QUOTA_BYTES, "2024-01-01T00:00:00Z")
    repo.put_profile("old2", FREE_QUOTA_BYTES, "2024-01-01T00:00:00Z")
    assert usage_plan_of("old1") is usage_plan_of("old2") is None
    keys = registration._steps().usage
    assert keys is not None
    for _ in range(2):
        assert usage_backfill.backfill(repo, keys) == 2
    assert usage_plan_of("old1") == usage_plan_of("old2") == PLAN_NAME
    assert len(boto3.client("apigateway").get_api_keys()["items"]) == 2


def test_publish_registered_announces_the_account_without_its_hash(env: Env) -> None:
    r = _input()
    env.steps.publish_registered(r)
    [event] = published(env)
    assert (event["source"], event["detail-type"]) == ("skyreel.auth", "user.registered")
    assert event["detail"] == {
        "user_id": "u1",
        "email": "ada@example.com",
        "display_name": "Ada",
        "created_at": "2024-01-01T00:00:00Z",
    }


FORWARD = ("create_user", "create_profile", "create_analytics_profile")
UNDO = {
    "create_user": "delete_user",
    "create_profile": "delete_profile",
    "create_analytics_profile": "delete_analytics_profile",
}


@pytest.mark.parametrize("done", [1, 2, 3])
def test_undoing_a_partial_registration_leaves_the_tables_clean(env: Env, done: int) -> None:
    r = _input()
    for step in FORWARD[:done]:
        getattr(env.steps, step)(r)
    assert len(scan(AUTH_TABLE)) + len(scan(ANALYTICS_TABLE)) == [2, 3, 4][done - 1]
    for step in reversed(FORWARD[:done]):
        getattr(env.steps, UNDO[step])(r)
    assert scan(AUTH_TABLE) == []
    assert scan(ANALYTICS_TABLE) == []


def test_the_step_handler_names_a_taken_email_as_the_machine_catches_it(env: Env) -> None:
    env.steps.create_user(_input("u1"))
    env.repo.put_pending_registration(_input("u2"), expires_at=int(time.time()) + 600)
    event = {"step": "create_user", "registration": {"user_id": "u2"}}
    with pytest.raises(registration.EmailTaken) as taken:
        registration.lambda_handler(event, LambdaContext())  # type: ignore[arg-type]
    assert "ada@example.com" not in str(taken.value)  # the cause lands in the execution history
    assert stored("USER#u2", "USER") is None
    with pytest.raises(ValueError, match="unknown registration step"):
        registration.lambda_handler({**event, "step": "drop_tables"}, LambdaContext())  # type: ignore[arg-type]


# --- signing in ------------------------------------------------------------------------------------------


def test_login_starts_a_session_and_stores_only_hashes(env: Env) -> None:
    user_id = env.register("ada@example.com")
    pair = env.login("  ADA@example.com ")  # normalised like registration
    claims = tokens.verify_access_token(pair.access_token, KEYS.jwks(), issuer=ISS, audience=AUD)
    assert claims.user_id == user_id
    session = stored(f"SESSION#{claims.session_id}", "SESSION")
    assert session is not None
    assert (session["user_id"], session.get("revoked")) == (user_id, False)
    refresh = stored(f"REFRESH#{sha256(pair.refresh_token)}", "REFRESH")
    assert refresh is not None
    assert (refresh["session_id"], refresh["used"]) == (claims.session_id, False)
    assert pair.refresh_token not in json.dumps(scan(AUTH_TABLE))
    assert env.service.me(user_id).email == "ada@example.com"


def test_wrong_password_and_unknown_email_fail_alike(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    env.register("ada@example.com")
    verified: list[str | None] = []
    real = passwords.verify_password
    monkeypatch.setattr(passwords, "verify_password", lambda h, p: verified.append(h) or real(h, p))
    with pytest.raises(UnauthenticatedError) as wrong:
        env.login("ada@example.com", "not the passphrase")
    with pytest.raises(UnauthenticatedError) as unknown:
        env.login("nobody@example.com", "not the passphrase")
    assert str(wrong.value) == str(unknown.value)
    assert (wrong.value.code, wrong.value.details) == (unknown.value.code, unknown.value.details)
    # Both pay for one argon2 verification (the unknown one against the dummy hash).
    assert len(verified) == 2
    assert verified[1] is None
    assert failures("account#ada@example.com") == failures("account#nobody@example.com") == 1
    assert failures(f"ip#{IP}") == 2


def test_sign_ins_are_counted_as_business_metrics(env: Env) -> None:
    env.register("ada@example.com")
    metrics.clear_metrics()
    env.login("ada@example.com")
    with pytest.raises(UnauthenticatedError):
        env.login("ada@example.com", "not the passphrase")
    recorded = {name: m["Value"] for name, m in metrics.provider.metric_set.items()}
    metrics.clear_metrics()
    assert recorded == {"SignIn": [1.0], "SignInFailed": [1.0], "PasswordVerified": [1.0, 1.0]}


def test_an_account_is_throttled_after_five_failures(env: Env) -> None:
    env.register("ada@example.com")
    for i in range(throttle.ACCOUNT_FREE_FAILURES):
        with pytest.raises(UnauthenticatedError):
            env.login("ada@example.com", f"guess number {i}")
    # Locked: even the right password waits, and a refused attempt does not count as a failure.
    with pytest.raises(ThrottledError) as locked:
        env.login("ada@example.com")
    assert status_for(locked.value) == 429
    assert locked.value.retry_after_s == throttle.BASE_DELAY_S
    assert failures("account#ada@example.com") == throttle.ACCOUNT_FREE_FAILURES
    # The lock is on the account, from anywhere.
    with pytest.raises(ThrottledError):
        env.login("ada@example.com", ip="198.51.100.7")
    # Each further failure doubles the wait.
    env.clock.advance(locked.value.retry_after_s)
    with pytest.raises(UnauthenticatedError):
        env.login("ada@example.com", "one more guess")
    with pytest.raises(ThrottledError) as longer:
        env.login("ada@example.com")
    assert longer.value.retry_after_s == 2 * throttle.BASE_DELAY_S
    env.clock.advance(longer.value.retry_after_s)
    env.login("ada@example.com")
    assert failures("account#ada@example.com") is None  # a success clears the account's count


def test_parallel_wrong_passwords_cannot_all_reach_argon2(
    env: Env, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    """The slot is taken before the slow verify: 12 parallel guesses, at most the free five verified."""
    env.register("ada@example.com")
    verified = []
    all_in = threading.Barrier(12)
    real = passwords.verify_password

    def slow_verify(stored_hash: str | None, password: str) -> bool:
        verified.append(password)
        time.sleep(0.3)  # argon2 is slow on purpose: every attempt is in flight at once
        return real(stored_hash, password)

    monkeypatch.setattr(passwords, "verify_password", slow_verify)
    # DynamoDB applies a conditional write atomically; moto only does with the local cloud's lock.
    uninstall = atomic_dynamodb.install()
    request.addfinalizer(uninstall)

    def attempt(i: int) -> str:
        all_in.wait()
        try:
            env.login("ada@example.com", f"guess number {i}", ip=f"192.0.2.{i + 1}")
        except ThrottledError:
            return "throttled"
        except UnauthenticatedError:
            return "wrong"
        return "signed in"

    with ThreadPoolExecutor(12) as pool:
        outcomes = list(pool.map(attempt, range(12)))
    assert len(verified) <= throttle.ACCOUNT_FREE_FAILURES
    assert outcomes.count("wrong") == len(verified)
    assert outcomes.count("throttled") == 12 - len(verified)
    assert failures("account#ada@example.com") == len(verified)


def test_a_right_password_gives_the_address_slot_back(env: Env) -> None:
    env.register("ada@example.com")
    with pytest.raises(UnauthenticatedError):
        env.login("someone@example.com", "a wrong passphrase")
    env.login("ada@example.com")
    assert failures(f"ip#{IP}") == 1  # the failure counts, the success does not
    env.service.login("ada@example.com", PASSWORD, None)  # no viewer address: no per-address count
    assert failures(f"ip#{IP}") == 1


def test_the_viewer_address_is_the_ip_of_cloudfronts_header() -> None:
    assert throttle.viewer_ip("203.0.113.9:46532") == "203.0.113.9"
    assert throttle.viewer_ip("2001:db8::7:443") == "2001:db8::7"
    assert throttle.viewer_ip("[2001:db8::7]:443") == "2001:db8::7"
    assert throttle.viewer_ip("not an address") is None
    assert throttle.viewer_ip(None) is None


def test_a_source_address_is_throttled_across_accounts(env: Env) -> None:
    env.register("ada@example.com")
    # Many accounts, one guess each (so no account lock), all from one address.
    for i in range(throttle.IP_FREE_FAILURES - 1):
        with pytest.raises(UnauthenticatedError):
            env.login(f"someone-{i}@example.com", "a wrong passphrase")
    env.login("ada@example.com")  # one short of the limit: still free
    with pytest.raises(UnauthenticatedError):
        env.login("someone-else@example.com", "a wrong passphrase")
    assert failures(f"ip#{IP}") == throttle.IP_FREE_FAILURES
    assert failures("account#someone-0@example.com") == 1
    with pytest.raises(ThrottledError) as locked:
        env.login("ada@example.com")  # a fresh account, the right password, the same address
    assert status_for(locked.value) == 429
    assert locked.value.retry_after_s >= throttle.BASE_DELAY_S
    assert failures("account#ada@example.com") is None  # the lock is not the account's
    env.login("ada@example.com", ip="198.51.100.7")  # from elsewhere: fine


def test_login_rehashes_a_password_hashed_with_other_parameters(env: Env) -> None:
    old_hash = PasswordHasher(time_cost=2, memory_cost=16, parallelism=1).hash(PASSWORD)
    assert passwords.needs_rehash(old_hash)  # the premise: the parameters have changed since
    env.steps.create_user(_input("u1").model_copy(update={"password_hash": old_hash}))
    env.login("ada@example.com")
    account = stored("USER#u1", "USER")
    assert account is not None
    new_hash = account["password_hash"]
    assert new_hash != old_hash
    assert "$m=8,t=1,p=1$" in new_hash  # the current parameters
    assert not passwords.needs_rehash(new_hash)
    assert CHEAP.verify(new_hash, PASSWORD)
    env.login("ada@example.com")  # still signs in, and an up-to-date hash is left alone
    assert stored("USER#u1", "USER") == account


def test_failures_older_than_the_window_start_a_fresh_count(env: Env) -> None:
    env.register("ada@example.com")
    now = env.clock.now
    env.clock.now = now - throttle.WINDOW_S - 60  # a burst of failures, over a day ago
    for i in range(throttle.ACCOUNT_FREE_FAILURES):
        with pytest.raises(UnauthenticatedError):
            env.login("ada@example.com", f"old guess {i}")
    env.clock.now = now
    with pytest.raises(UnauthenticatedError):
        env.login("ada@example.com", "a typo today")  # one failure today: well within the free five
    assert failures("account#ada@example.com") == 1
    env.login("ada@example.com")


# --- refresh and logout ------------------------------------------------------------------------------------


def _session_of(pair: TokenPair) -> str:
    return tokens.verify_access_token(pair.access_token, KEYS.jwks(), issuer=ISS, audience=AUD).session_id


def _bearer(pair: TokenPair) -> dict[str, str]:
    return {"Authorization": f"Bearer {pair.access_token}"}


def test_refresh_rotates_the_token(env: Env) -> None:
    env.register("ada@example.com")
    first = env.login("ada@example.com")
    second = env.service.refresh(first.refresh_token)
    assert second.refresh_token != first.refresh_token
    assert _session_of(second) == _session_of(first)  # same family
    spent = stored(f"REFRESH#{sha256(first.refresh_token)}", "REFRESH")
    fresh = stored(f"REFRESH#{sha256(second.refresh_token)}", "REFRESH")
    assert spent is not None
    assert fresh is not None
    assert (spent["used"], fresh["used"]) == (True, False)
    assert fresh["session_id"] == _session_of(first)
    assert env.service.authenticate(_bearer(second)).user_id == env.users["ada@example.com"]
    with pytest.raises(UnauthenticatedError):
        env.service.refresh("rt_not-a-token-we-issued")


def test_reusing_a_refresh_token_revokes_the_whole_family(env: Env) -> None:
    env.register("ada@example.com")
    first = env.login("ada@example.com")
    other_device = env.login("ada@example.com")
    second = env.service.refresh(first.refresh_token)
    with pytest.raises(UnauthenticatedError, match="already used"):
        env.service.refresh(first.refresh_token)
    session = stored(f"SESSION#{_session_of(first)}", "SESSION")
    assert session is not None
    assert session["revoked"] is True
    # The newest token of the family dies too: we cannot tell the thief from the owner.
    with pytest.raises(UnauthenticatedError):
        env.service.refresh(second.refresh_token)
    with pytest.raises(UnauthenticatedError):
        env.service.authenticate(_bearer(second))
    # Another session of the same account is untouched.
    assert env.service.refresh(other_device.refresh_token).access_token


def test_logout_revokes_the_session(env: Env) -> None:
    env.register("ada@example.com")
    pair = env.login("ada@example.com")
    assert env.service.authenticate(_bearer(pair)).session_id == _session_of(pair)
    env.service.logout(pair.refresh_token)
    session = stored(f"SESSION#{_session_of(pair)}", "SESSION")
    assert session is not None
    assert session["revoked"] is True
    with pytest.raises(UnauthenticatedError):
        env.service.refresh(pair.refresh_token)
    with pytest.raises(UnauthenticatedError, match="session has ended"):
        env.service.authenticate(_bearer(pair))
    env.service.logout("rt_unknown-token-is-fine")  # no error, nothing to revoke


def test_an_expired_refresh_token_is_refused(env: Env) -> None:
    env.register("ada@example.com")
    pair = env.login("ada@example.com")
    env.clock.advance(tokens.REFRESH_TOKEN_TTL_S)
    with pytest.raises(UnauthenticatedError, match="not valid"):
        env.service.refresh(pair.refresh_token)
    record = stored(f"REFRESH#{sha256(pair.refresh_token)}", "REFRESH")
    assert record is not None
    assert record["used"] is False  # refused before it could be spent


# --- API keys ---------------------------------------------------------------------------------------------


def _api_key_items() -> list[dict[str, Any]]:
    return [i for i in scan(AUTH_TABLE) if "APIKEY" in i["sk"]]


def test_create_api_key_shows_it_once_and_stores_only_its_hash(env: Env) -> None:
    created = env.service.create_api_key(
        "u1", ApiKeyRequest(name="ci", scopes=["videos:read", "search", "search"])
    )
    assert created.key.startswith(f"{created.prefix}_")
    assert created.prefix == created.key[: len("skr_") + 8]
    items = _api_key_items()
    assert {(i["pk"], i["sk"]) for i in items} == {
        ("USER#u1", f"APIKEY#{created.id}"),
        (f"APIKEY#{sha256(created.key)}", "APIKEY"),
    }
    for item in items:
        assert item["fingerprint"] == sha256(created.key)
        assert item["prefix"] == created.prefix
        assert item["scopes"] == ["search", "videos:read"]  # deduplicated, sorted
        assert created.key not in json.dumps(item)
    [listed] = env.service.list_api_keys("u1")
    assert listed.id == created.id
    assert "key" not in listed.model_dump()  # never shown again
    assert env.service.list_api_keys("u2") == []


@pytest.mark.parametrize("scopes", [[], ["account"], ["videos:read", "admin"]])
def test_api_key_scopes_are_checked_before_anything_is_stored(env: Env, scopes: list[str]) -> None:
    with pytest.raises(ValidationFailedError) as refused:
        env.service.create_api_key("u1", ApiKeyRequest(name="x", scopes=scopes))
    assert status_for(refused.value) == 422
    assert scan(AUTH_TABLE) == []


def test_using_an_api_key_records_its_last_use_at_most_once_a_minute(env: Env) -> None:
    created = env.service.create_api_key("u1", ApiKeyRequest(name="ci", scopes=["search"]))
    assert all("last_used_at" not in i for i in _api_key_items())
    first_use = env.clock.now
    principal = env.service.authenticate({"X-API-Key": created.key})
    assert (principal.user_id, principal.scopes, principal.auth_type, principal.api_key_id) == (
        "u1",
        ("search",),
        "api_key",
        created.id,
    )
    assert [i["last_used_at"] for i in _api_key_items()] == [iso(first_use)] * 2
    env.clock.advance(30)
    env.service.authenticate({"x-api-key": created.key})
    assert [i["last_used_at"] for i in _api_key_items()] == [iso(first_use)] * 2  # too soon to write
    env.clock.advance(31)
    env.service.authenticate({"X-API-Key": created.key})
    assert [i["last_used_at"] for i in _api_key_items()] == [iso(env.clock.now)] * 2
    assert env.service.list_api_keys("u1")[0].last_used_at == iso(env.clock.now)


def test_the_callers_plan_reaches_the_authorizer_context(env: Env) -> None:
    """Handlers look up quotas by plan: from the token's `plan` claim, or the API key owner's profile."""
    user_id = env.register("ada@example.com")
    env.steps.create_profile(_input(user_id))
    pair = env.login("ada@example.com")
    assert env.service.authenticate(_bearer(pair)).context()["plan"] == "free"
    key = env.service.create_api_key(user_id, ApiKeyRequest(name="ci", scopes=["videos:read"]))
    boto3.client("dynamodb").update_item(
        TableName=AUTH_TABLE,
        Key={"pk": {"S": f"USER#{user_id}"}, "sk": {"S": "PROFILE"}},
        UpdateExpression="SET #p = :pro",
        ExpressionAttributeNames={"#p": "plan"},
        ExpressionAttributeValues={":pro": {"S": "pro"}},
    )
    assert env.service.authenticate({"X-API-Key": key.key}).context()["plan"] == "pro"  # read now
    assert env.service.authenticate(_bearer(env.login("ada@example.com"))).plan == "pro"  # a new token
    assert env.service.authenticate(_bearer(pair)).plan == "free"  # an old token keeps its claim


def test_a_revoked_api_key_is_refused(env: Env) -> None:
    created = env.service.create_api_key("u1", ApiKeyRequest(name="ci", scopes=["search"]))
    other = env.service.create_api_key("u1", ApiKeyRequest(name="kept", scopes=["search"]))
    with pytest.raises(NotFoundError):
        env.service.revoke_api_key("u2", created.id)  # not yours: as if it did not exist
    assert all("revoked_at" not in i for i in _api_key_items())
    env.service.revoke_api_key("u1", created.id)
    revoked = [i for i in _api_key_items() if i["id"] == created.id]
    assert len(revoked) == 2
    assert all(i.get("revoked_at") for i in revoked)  # the listing copy and the lookup copy
    with pytest.raises(UnauthenticatedError, match="not valid"):
        env.service.authenticate({"X-API-Key": created.key})
    assert [k.id for k in env.service.list_api_keys("u1")] == [other.id]
    assert env.service.authenticate({"X-API-Key": other.key}).api_key_id == other.id
    with pytest.raises(NotFoundError):
        env.service.revoke_api_key("u1", created.id)  # already revoked


@pytest.mark.parametrize(
    "key", ["not-a-key", "skr_short_secret", "skr_0123abcd_a-well-formed-key-that-was-never-issued"]
)
def test_unknown_and_malformed_api_keys_are_refused(env: Env, key: str) -> None:
    with pytest.raises(UnauthenticatedError):
        env.service.authenticate({"X-API-Key": key})


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


@pytest.mark.parametrize("part", ["signature", "payload"])
def test_a_tampered_access_token_is_refused(env: Env, part: str) -> None:
    env.register("ada@example.com")
    pair = env.login("ada@example.com")
    assert env.service.authenticate(_bearer(pair)).user_id == env.users["ada@example.com"]
    forged = _tampered(pair.access_token, part)
    assert forged != pair.access_token
    with pytest.raises(UnauthenticatedError, match="not valid"):
        env.service.authenticate({"Authorization": f"Bearer {forged}"})


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Basic YWRhOnBhc3M="}, {"Authorization": "Bearer"}]
)
def test_requests_without_usable_credentials_are_refused(env: Env, headers: dict[str, str]) -> None:
    with pytest.raises(UnauthenticatedError):
        env.service.authenticate(headers)


def test_a_token_signed_by_a_key_rotated_in_after_caching_verifies(env: Env) -> None:
    env.register("ada@example.com")
    pair = env.login("ada@example.com")  # the service has cached the key set
    rotated = KEYS.rotated()
    boto3.client("secretsmanager").put_secret_value(SecretId=SECRET, SecretString=rotated.to_json())
    env.clock.advance(2)  # a rotation lands after the cache's last read, not within the same second
    fresh = tokens.issue_access_token(
        rotated,
        issuer=ISS,
        audience=AUD,
        user_id=env.users["ada@example.com"],
        session_id=_session_of(pair),
    )
    assert jwt.get_unverified_header(fresh)["kid"] == rotated.active_kid != KEYS.active_kid
    assert env.service.authenticate({"Authorization": f"Bearer {fresh}"}).session_id == _session_of(pair)
    assert env.service.authenticate(_bearer(pair)).session_id == _session_of(pair)  # the old key still counts


def test_only_an_unknown_key_id_rereads_the_key_set_and_at_most_every_few_seconds(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    env.register("ada@example.com")
    pair = env.login("ada@example.com")  # the key set is cached now
    env.clock.advance(5)
    reads: list[float] = []
    real_read = env.service.keys._read
    monkeypatch.setattr(env.service.keys, "_read", lambda: reads.append(env.clock()) or real_read())
    # Refused for what it is (tampered, known kid): no Secrets Manager call.
    with pytest.raises(UnauthenticatedError):
        env.service.authenticate({"Authorization": f"Bearer {_tampered(pair.access_token, 'payload')}"})
    assert reads == []
    # Made-up key ids: the first re-reads (it could be a key rotated in), the flood after it does not,
    # until a second has passed.
    stranger = KEYS.rotated()
    for _ in range(5):
        forged = tokens.issue_access_token(stranger, issuer=ISS, audience=AUD, user_id="u1", session_id="s1")
        with pytest.raises(UnauthenticatedError, match="unknown key"):
            env.service.authenticate({"Authorization": f"Bearer {forged}"})
    assert len(reads) == 1
    env.clock.advance(1)
    with pytest.raises(UnauthenticatedError, match="unknown key"):
        env.service.authenticate({"Authorization": f"Bearer {forged}"})
    assert len(reads) == 2


# --- the data layer's failures --------------------------------------------------------------------------


def test_a_store_that_does_not_answer_is_a_503(env: Env) -> None:
    missing = AuthRepository("no-such-table")
    with pytest.raises(DependencyUnavailableError, match="the auth table") as down:
        missing.get_user("u1")
    assert status_for(down.value) == 503
    with pytest.raises(DependencyUnavailableError, match="Secrets Manager"):
        KeyStore("no-such-secret").keyset()
    with pytest.raises(DependencyUnavailableError, match="the analytics table"):
        AnalyticsProfiles("no-such-table").create("u1", "2024-01-01T00:00:00Z")
