"""The one way a workflow's task function serves its steps.

A state machine invokes one Lambda function for several Task states, naming the step in the input:
`{"step": "<name>", ...}`. A domain declares its steps on a `WorkflowSteps` with the pydantic model
of the payload; the handler stays one line (`return STEPS.handle(event)`):

    STEPS = WorkflowSteps("video_delete", DeletePayload)

    @STEPS.step("delete_objects")
    def delete_objects(payload: DeletePayload) -> dict[str, Any]:
        return {"step": "delete_objects", "result": deletion().delete_objects(payload.video.id)}

The payload is validated before any step runs, so a malformed input fails the task with a
`ValidationError` naming the field (the state machine's history shows it), and an unknown step
name is an `UnknownStep`, never a silent no-op.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from functions.shared.observability import logger

Payload = TypeVar("Payload", bound=BaseModel)
StepFunction = Callable[[Payload], Any]


class UnknownStep(Exception):  # noqa: N818 - a name in the execution history
    """The state machine named a step this function does not serve (a definition out of date)."""


class WorkflowSteps(Generic[Payload]):
    def __init__(self, workflow: str, payload: type[Payload]) -> None:
        self.workflow = workflow
        self._payload = payload
        self._steps: dict[str, StepFunction[Payload]] = {}

    def step(self, name: str) -> Callable[[StepFunction[Payload]], StepFunction[Payload]]:
        """Register `fn` as the step `name`."""

        def register(fn: StepFunction[Payload]) -> StepFunction[Payload]:
            if name in self._steps:
                raise ValueError(f"{self.workflow}: step {name!r} is declared twice")
            self._steps[name] = fn
            return fn

        return register

    @property
    def names(self) -> frozenset[str]:
        return frozenset(self._steps)

    def handle(self, event: Mapping[str, Any]) -> Any:
        name = event.get("step")
        fn = self._steps.get(name) if isinstance(name, str) else None
        if fn is None:
            raise UnknownStep(f"{self.workflow}: unknown step {name!r}")
        payload = self._payload.model_validate(event)
        logger.info("workflow step", extra={"workflow": self.workflow, "step": name})
        return fn(payload)
