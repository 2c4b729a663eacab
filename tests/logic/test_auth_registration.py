"""Registration: the use case, the shipped saga definition run in-process through the real step handler,
each step and its undo, and the usage-key backfill. On fakes, with the network off."""

from __future__ import annotations

import itertools
import json
import time

import pytest

from functions.auth import registration
from functions.auth.logic import (
    FREE_QUOTA_BYTES,
    EmailTakenError,
    RegistrationFailedError,
    RegistrationNotFoundError,
    RegistrationPendingError,
    RegistrationSteps,
    backfill_usage_keys,
)
from functions.auth.models import ProfileRecord, RegisterRequest, RegistrationInput, UserOut
from functions.shared.api import status_for
from functions.shared.errors import ValidationFailedError
from functions.shared.steps import UnknownStep
from tests.fakes.auth import REGISTRATION_ASL, FakeUsageKeys, StuckRegistration
from tests.logic.auth_world import CHEAP, PASSWORD, LambdaContext, World, build_world


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> World:
    return build_world(monkeypatch)


def register(world: World, email: str, password: str = PASSWORD, **extra: str) -> UserOut:
    return world.service.register(RegisterRequest(email=email, password=password, **extra))


def test_register_runs_every_step_and_stores_the_account(world: World) -> None:
    user = register(world, "ada@example.com", display_name="Ada")
    assert world.workflow.visited == [
        "CreateUser",
        "CreateProfile",
        "CreateAnalyticsProfile",
        "CreateUsageKey",
        "PublishRegistered",
        "Registered",
    ]
    assert world.usage.plan_of == {user.id: "free"}  # metered from its first request
    account = world.users.get_user(user.id)
    assert account is not None
    assert (account.email, account.display_name) == ("ada@example.com", "Ada")
    assert account.password_hash.startswith("$argon2id$")
    assert world.hashing.verify(account.password_hash, PASSWORD)
    assert world.users.email_locks == {"ada@example.com": user.id}
    profile = world.users.get_profile(user.id)
    assert profile is not None
    assert (profile.quota_bytes, profile.plan) == (FREE_QUOTA_BYTES, "free")
    assert world.analytics.exists(user.id)
    [(kind, detail)] = world.events.published
    assert (kind, detail["user_id"]) == ("user.registered", user.id)
    # The password is nowhere, and its hash never leaves the account.
    assert PASSWORD not in json.dumps([detail, world.analytics.created, account.model_dump()])
    assert account.password_hash not in json.dumps(detail)
    assert user.model_dump().keys() == {"id", "email", "display_name", "created_at"}
    assert world.users.pending == {}  # the pending record is gone after


def test_the_saga_input_holds_only_the_id(world: World) -> None:
    user = register(world, "ada@example.com", display_name="Ada")
    assert world.workflow.inputs == [{"user_id": user.id}]


def test_register_normalises_the_email_and_a_duplicate_is_a_409_that_writes_nothing(world: World) -> None:
    first = register(world, "  Ada.Lovelace@Example.COM ")
    assert first.email == "ada.lovelace@example.com"
    before = world.everything_stored()
    announced = len(world.events.published)
    with pytest.raises(EmailTakenError) as taken:
        register(world, "ADA.LOVELACE@example.com", password="another fine passphrase")
    assert status_for(taken.value) == 409
    assert taken.value.code == "conflict"
    assert world.workflow.visited[-2:] == ["CreateUser", "EmailTaken"]  # no undo: nothing of it was made
    assert world.everything_stored() == before  # the winner's account is untouched
    assert len(world.events.published) == announced


@pytest.mark.parametrize(
    ("password", "rule"),
    [("short", "at least 10"), ("password123", "most common"), ("ada.lovelace is me", "email")],
)
def test_a_weak_password_is_a_422_and_writes_nothing(world: World, password: str, rule: str) -> None:
    with pytest.raises(ValidationFailedError) as weak:
        register(world, "ada.lovelace@example.com", password=password)
    assert status_for(weak.value) == 422
    assert any(rule in d["message"] for d in weak.value.details)
    assert world.workflow.executions == {}  # the saga never started
    assert world.users.is_empty()


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
def test_a_failing_saga_step_is_undone_and_leaves_nothing(
    world: World, monkeypatch: pytest.MonkeyPatch, step: str, undone_by: list[str]
) -> None:
    real = getattr(RegistrationSteps, step)

    def broken(self: RegistrationSteps, user_id: str) -> None:
        real(self, user_id)  # the step did its work, then failed: the undo must remove it
        raise RuntimeError(f"injected failure in {step}")

    with monkeypatch.context() as patch:
        patch.setattr(RegistrationSteps, step, broken)
        with pytest.raises(RegistrationFailedError, match="RegistrationFailed") as failed:
            register(world, "ada@example.com")
    assert status_for(failed.value) == 503
    assert world.workflow.visited[-len(undone_by) - 1 :] == [*undone_by, "RegistrationFailed"]
    assert world.users.is_empty()
    assert world.analytics.created == {}
    assert world.usage.plan_of == {}  # no metering key is left either
    # Nothing was kept, so the same email registers once the fault is gone.
    assert register(world, "ada@example.com").email == "ada@example.com"


def test_an_undo_that_fails_ends_in_compensation_failed(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self: RegistrationSteps, user_id: str) -> None:
        raise RuntimeError("injected")

    monkeypatch.setattr(RegistrationSteps, "create_analytics_profile", broken)
    monkeypatch.setattr(RegistrationSteps, "delete_profile", broken)
    with pytest.raises(RegistrationFailedError, match="CompensationFailed"):
        register(world, "ada@example.com")
    assert world.workflow.visited[-2:] == ["UndoProfile", "CompensationFailed"]
    assert world.users.pending == {}  # the API gave up on it: its record goes


def test_a_saga_still_running_after_the_wait_is_a_503_and_keeps_its_record(world: World) -> None:
    world.service.workflow = StuckRegistration()
    started = time.monotonic()
    with pytest.raises(RegistrationPendingError, match="taking too long") as pending:
        register(world, "ada@example.com")
    assert time.monotonic() - started < 2
    assert status_for(pending.value) == 503
    assert len(world.users.pending) == 1  # the saga may still need it; its TTL removes it


def test_the_wait_polls_with_growing_delays_within_its_bound(world: World) -> None:
    slept: list[float] = []
    now = [0.0]

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    world.service.workflow = StuckRegistration()
    world.service.monotonic = lambda: now[0]
    world.service.sleep = sleep
    world.service.registration_wait_s = 20
    with pytest.raises(RegistrationPendingError):
        register(world, "ada@example.com")
    assert slept[0] == 0.05
    assert all(b >= a for a, b in itertools.pairwise(slept))
    assert max(slept) == 0.5
    assert sum(slept) <= 20


# --- the saga's steps, one by one ------------------------------------------------------------------------


def _pending(world: World, user_id: str = "u1", email: str = "ada@example.com") -> RegistrationInput:
    r = RegistrationInput(
        user_id=user_id,
        email=email,
        display_name="Ada",
        password_hash=CHEAP.hash(PASSWORD),
        created_at="2024-01-01T00:00:00.000Z",
    )
    world.users.put_pending_registration(r, expires_at=world.clock() + 600)
    return r


def test_create_user_writes_the_user_and_its_lock_and_is_idempotent(world: World) -> None:
    _pending(world, "u1")
    world.steps.create_user("u1")
    world.steps.create_user("u1")  # a retried step is no conflict with itself
    assert set(world.users.users) == {"u1"}
    _pending(world, "u2")
    with pytest.raises(EmailTakenError):  # another user with the same email: refused, nothing written
        world.steps.create_user("u2")
    assert set(world.users.users) == {"u1"}
    assert world.users.email_locks == {"ada@example.com": "u1"}


def test_undoing_a_user_is_idempotent_and_spares_another_users_lock(world: World) -> None:
    _pending(world, "u1")
    _pending(world, "u2")
    world.steps.create_user("u1")
    world.steps.delete_user("u2")  # u2 lost the race for this email: its undo must not free it
    assert world.users.email_locks == {"ada@example.com": "u1"}
    world.steps.delete_user("u1")
    world.steps.delete_user("u1")
    assert world.users.users == {}
    assert world.users.email_locks == {}


def test_profile_steps_and_their_undo(world: World) -> None:
    _pending(world)
    for _ in range(2):  # idempotent both ways
        world.steps.create_profile("u1")
        world.steps.create_analytics_profile("u1")
    assert world.users.get_profile("u1") == ProfileRecord(
        user_id="u1", quota_bytes=FREE_QUOTA_BYTES, plan="free", created_at="2024-01-01T00:00:00.000Z"
    )
    assert world.analytics.created == {"u1": "2024-01-01T00:00:00.000Z"}
    for _ in range(2):
        world.steps.delete_analytics_profile("u1")
        world.steps.delete_profile("u1")
    assert world.users.profiles_by_user == {}
    assert world.analytics.created == {}


def test_the_usage_key_step_puts_the_account_on_the_default_plan_and_its_undo(world: World) -> None:
    world.steps.usage = FakeUsageKeys({"starter": "skyreel-starter", "pro": "skyreel-pro"})
    _pending(world)
    for _ in range(2):
        world.steps.create_usage_key("u1")
    assert world.steps.usage.plan_of == {"u1": "starter"}  # the first plan on offer
    for _ in range(2):
        world.steps.delete_usage_key("u1")
    assert world.steps.usage.plan_of == {}


def test_without_usage_plans_the_usage_key_steps_do_nothing(world: World) -> None:
    world.steps.usage = None
    _pending(world)
    world.steps.create_usage_key("u1")
    world.steps.delete_usage_key("u1")


def test_the_backfill_gives_every_existing_account_its_key_on_its_plan(world: World) -> None:
    """Accounts from before usage plans have no metering key, so API Gateway would refuse them: the
    backfill gives each its key on its plan (the default one if that plan is not offered), idempotently."""
    keys = FakeUsageKeys({"free": "skyreel-free", "pro": "skyreel-pro"})
    for user_id, plan in (("old1", "free"), ("old2", "pro"), ("old3", "gold"), ("old4", None)):
        world.users.put_profile(
            ProfileRecord(user_id=user_id, quota_bytes=1, plan=plan, created_at="2024-01-01T00:00:00Z")
        )
    for _ in range(2):
        assert backfill_usage_keys(world.users, keys) == 4
    assert keys.plan_of == {"old1": "free", "old2": "pro", "old3": "free", "old4": "free"}


def test_publish_registered_announces_the_account_without_its_hash(world: World) -> None:
    _pending(world)
    world.steps.publish_registered("u1")
    assert world.events.published == [
        (
            "user.registered",
            {
                "user_id": "u1",
                "email": "ada@example.com",
                "display_name": "Ada",
                "created_at": "2024-01-01T00:00:00.000Z",
            },
        )
    ]


def test_a_step_retried_after_the_api_stopped_waiting_reads_the_user(world: World) -> None:
    """The API deletes the pending record when it stops waiting; a late retry works on the user made."""
    _pending(world)
    world.steps.create_user("u1")
    world.users.delete_pending_registration("u1")
    world.steps.create_profile("u1")
    assert world.users.get_profile("u1") is not None


@pytest.mark.parametrize(
    "step", ["create_user", "create_profile", "create_analytics_profile", "publish_registered"]
)
def test_a_forward_step_without_its_registration_fails_and_makes_nothing(world: World, step: str) -> None:
    with pytest.raises(RegistrationNotFoundError):
        getattr(world.steps, step)("gone")
    assert world.users.is_empty()
    assert world.analytics.created == {}
    assert world.events.published == []


FORWARD = ("create_user", "create_profile", "create_analytics_profile")
UNDO = {
    "create_user": "delete_user",
    "create_profile": "delete_profile",
    "create_analytics_profile": "delete_analytics_profile",
}


@pytest.mark.parametrize("done", [1, 2, 3])
def test_undoing_a_partial_registration_leaves_nothing(world: World, done: int) -> None:
    _pending(world)
    for step in FORWARD[:done]:
        getattr(world.steps, step)("u1")
    for step in reversed(FORWARD[:done]):
        getattr(world.steps, UNDO[step])("u1")
    world.users.delete_pending_registration("u1")
    assert world.users.is_empty()
    assert world.analytics.created == {}


# --- the step handler: the names the state machine catches ------------------------------------------------


def test_the_step_handler_names_a_taken_email_as_the_machine_catches_it(world: World) -> None:
    _pending(world, "u1")
    world.steps.create_user("u1")
    _pending(world, "u2")
    event = {"step": "create_user", "registration": {"user_id": "u2"}}
    with pytest.raises(registration.EmailTaken) as taken:
        registration.lambda_handler(event, LambdaContext())
    assert "ada@example.com" not in str(taken.value)  # the cause lands in the execution history
    assert world.users.get_user("u2") is None
    with pytest.raises(UnknownStep, match="drop_tables"):
        registration.lambda_handler({**event, "step": "drop_tables"}, LambdaContext())


def test_the_step_handler_names_an_expired_registration_and_undoes_by_id(world: World) -> None:
    event = {"step": "create_profile", "registration": {"user_id": "gone"}}
    with pytest.raises(registration.RegistrationNotFound):
        registration.lambda_handler(event, LambdaContext())
    # An undo after a Catch carries the error next to the id; with nothing to undo it succeeds.
    undo = {"step": "delete_user", "registration": {"user_id": "gone", "error": {"Error": "X", "Cause": "y"}}}
    assert registration.lambda_handler(undo, LambdaContext()) == {"step": "delete_user", "ok": True}


def test_every_step_the_machine_names_is_served() -> None:
    definition = json.loads(REGISTRATION_ASL.read_text())
    named = {s["Parameters"]["step"] for s in definition["States"].values() if s["Type"] == "Task"}
    assert named == registration.STEPS.names
