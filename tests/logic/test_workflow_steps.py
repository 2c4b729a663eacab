from __future__ import annotations

import socket

import pytest
from pydantic import BaseModel, ValidationError
from pytest_socket import SocketBlockedError

from functions.shared.steps import UnknownStep, WorkflowSteps


class Payload(BaseModel):
    step: str
    video_id: str


def _steps() -> WorkflowSteps[Payload]:
    steps = WorkflowSteps("demo", Payload)

    @steps.step("echo")
    def echo(payload: Payload) -> dict[str, str]:
        return {"video_id": payload.video_id}

    return steps


def test_a_step_gets_the_validated_payload_and_its_result_is_returned() -> None:
    assert _steps().handle({"step": "echo", "video_id": "v1"}) == {"video_id": "v1"}


def test_an_unknown_or_missing_step_name_is_refused() -> None:
    with pytest.raises(UnknownStep):
        _steps().handle({"step": "nope", "video_id": "v1"})
    with pytest.raises(UnknownStep):
        _steps().handle({"video_id": "v1"})


def test_a_malformed_payload_fails_before_any_step_runs() -> None:
    with pytest.raises(ValidationError):
        _steps().handle({"step": "echo"})


def test_a_step_declared_twice_is_a_mistake() -> None:
    steps = _steps()
    with pytest.raises(ValueError, match="twice"):
        steps.step("echo")(lambda p: None)


def test_the_logic_tier_has_no_network() -> None:
    with pytest.raises(SocketBlockedError):
        socket.socket(socket.AF_INET, socket.SOCK_STREAM)
