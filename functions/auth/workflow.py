"""Step Functions adapter for the registration saga (port `RegistrationWorkflow`): start an execution,
read how it ended. How long to wait and what an outcome means are the logic's (functions/auth/logic.py)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from functions.auth.models import WorkflowOutcome
from functions.shared import aws
from functions.shared.dependency import dependency


class StepFunctionsRegistration:
    def __init__(self, state_machine_arn: str, client: Callable[[], Any] = aws.stepfunctions) -> None:
        self.arn = state_machine_arn
        self._client = client

    def start(self, user_id: str) -> str:
        """Only the id enters Step Functions (its execution data and logs keep inputs): each step reads the
        pending registration (email, hash) from the auth table. The execution is named after the user, so
        a second start for one registration is refused rather than run twice."""
        with dependency("Step Functions"):
            return str(
                self._client().start_execution(
                    stateMachineArn=self.arn, name=user_id, input=json.dumps({"user_id": user_id})
                )["executionArn"]
            )

    def outcome(self, execution: str) -> WorkflowOutcome | None:
        """How the execution ended; None while it runs."""
        with dependency("Step Functions"):
            described = self._client().describe_execution(executionArn=execution)
        if described["status"] == "RUNNING":
            return None
        return WorkflowOutcome(status=described["status"], error=described.get("error") or None)
