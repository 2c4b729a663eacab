"""The registration saga's task function: one step per invocation, named by the state machine.

Input: {"step": "<name>", "registration": {"user_id": "<id>"}}: ids only, because Step Functions keeps
execution data (and logs it). Each step reads the pending registration (email, argon2 hash) through the
repository. Every step is idempotent, because Step Functions retries a task that failed or timed out.
"""

from __future__ import annotations

import functools
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.auth import settings
from functions.auth.dal import AnalyticsProfiles, AuthRepository, EmailTakenError
from functions.auth.logic import RegistrationSteps
from functions.auth.models import RegistrationInput
from functions.shared.events import EventPublisher
from functions.shared.observability import logger, metrics

STEPS = (
    "create_user",
    "create_profile",
    "create_analytics_profile",
    "create_usage_key",
    "publish_registered",
    "delete_usage_key",
    "delete_analytics_profile",
    "delete_profile",
    "delete_user",
)


UNDO_STEPS = frozenset({"delete_usage_key", "delete_analytics_profile", "delete_profile", "delete_user"})


class EmailTaken(Exception):  # noqa: N818 - the state machine catches it by this name
    pass


class RegistrationNotFound(Exception):  # noqa: N818 - a name in the execution history
    """The pending registration expired before its step ran: the saga fails and undoes what it made."""


@functools.cache
def _steps() -> RegistrationSteps:
    s = settings.settings()
    if s.analytics_table is None or s.event_bus is None:
        raise RuntimeError("the registration function needs the analytics table and the event bus")
    return RegistrationSteps(
        AuthRepository(s.table),
        AnalyticsProfiles(s.analytics_table),
        EventPublisher(s.event_bus, "auth"),
        settings.usage_keys(),
    )


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    step = event["step"]
    if step not in STEPS:
        raise ValueError(f"unknown registration step {step!r}")
    user_id = str(event["registration"]["user_id"])
    logger.info("registration step", extra={"step": step, "user_id": user_id})
    registration = _steps().load(user_id)
    if registration is None:
        if step not in UNDO_STEPS:
            raise RegistrationNotFound(f"no pending registration {user_id}")
        # Nothing was made from it (the user and its email lock are written together): undo by id alone.
        registration = RegistrationInput(user_id=user_id, email="", password_hash="", created_at="")
    try:
        getattr(_steps(), step)(registration)
    except EmailTakenError:
        # Execution history keeps error causes: name no address there.
        raise EmailTaken("The email address is already registered.") from None
    return {"step": step, "ok": True}
