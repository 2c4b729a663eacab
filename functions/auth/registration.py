"""The registration saga's task function: one step per invocation, named by the state machine
(infra/workflows/registration.asl.json), dispatched by `WorkflowSteps`.

Input: {"step": "<name>", "registration": {"user_id": "<id>", ...}}: ids only, because Step Functions
keeps execution data (and logs it); after a failure the state machine adds `error` there. Each step reads
the pending registration (email, argon2 hash) itself (functions/auth/logic.py, RegistrationSteps). Every
step is idempotent, because Step Functions retries a task that failed or timed out. Each answers
`{"step": <name>, "ok": true}` (the machine discards it: ResultPath null).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict

from functions.auth import wiring
from functions.auth.logic import EmailTakenError, RegistrationNotFoundError, RegistrationSteps
from functions.auth.settings import RegistrationSettings
from functions.shared.observability import logger, metrics
from functions.shared.steps import WorkflowSteps

Settings = RegistrationSettings


class EmailTaken(Exception):  # noqa: N818 - the state machine catches it by this name
    pass


class RegistrationNotFound(Exception):  # noqa: N818 - a name in the execution history
    """The pending registration expired before its step ran: the saga fails and undoes what it made."""


class RegistrationRef(BaseModel):
    model_config = ConfigDict(extra="ignore")  # `error`, added by a Catch, is the machine's business
    user_id: str


class RegistrationPayload(BaseModel):
    step: str
    registration: RegistrationRef


STEPS = WorkflowSteps("registration", RegistrationPayload)


def _run(payload: RegistrationPayload, step: Callable[[RegistrationSteps, str], None]) -> dict[str, Any]:
    user_id = payload.registration.user_id
    logger.info("registration step", extra={"step": payload.step, "user_id": user_id})
    try:
        step(wiring.registration_steps(), user_id)
    except EmailTakenError:
        # Execution history keeps error causes: name no address there.
        raise EmailTaken("The email address is already registered.") from None
    except RegistrationNotFoundError as exc:
        raise RegistrationNotFound(str(exc)) from None
    return {"step": payload.step, "ok": True}


@STEPS.step("create_user")
def create_user(payload: RegistrationPayload) -> dict[str, Any]:
    return _run(payload, RegistrationSteps.create_user)


@STEPS.step("create_profile")
def create_profile(payload: RegistrationPayload) -> dict[str, Any]:
    return _run(payload, RegistrationSteps.create_profile)


@STEPS.step("create_analytics_profile")
def create_analytics_profile(payload: RegistrationPayload) -> dict[str, Any]:
    return _run(payload, RegistrationSteps.create_analytics_profile)


@STEPS.step("create_usage_key")
def create_usage_key(payload: RegistrationPayload) -> dict[str, Any]:
    return _run(payload, RegistrationSteps.create_usage_key)


@STEPS.step("publish_registered")
def publish_registered(payload: RegistrationPayload) -> dict[str, Any]:
    return _run(payload, RegistrationSteps.publish_registered)


@STEPS.step("delete_usage_key")
def delete_usage_key(payload: RegistrationPayload) -> dict[str, Any]:
    return _run(payload, RegistrationSteps.delete_usage_key)


@STEPS.step("delete_analytics_profile")
def delete_analytics_profile(payload: RegistrationPayload) -> dict[str, Any]:
    return _run(payload, RegistrationSteps.delete_analytics_profile)


@STEPS.step("delete_profile")
def delete_profile(payload: RegistrationPayload) -> dict[str, Any]:
    return _run(payload, RegistrationSteps.delete_profile)


@STEPS.step("delete_user")
def delete_user(payload: RegistrationPayload) -> dict[str, Any]:
    return _run(payload, RegistrationSteps.delete_user)


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    result: dict[str, Any] = STEPS.handle(event)
    return result
