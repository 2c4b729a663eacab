"""The `WorkflowStarter` port on Step Functions: StartExecution on one state machine."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from functions.shared import aws
from functions.shared.errors import DependencyUnavailableError


class StepFunctionsStarter:
    def __init__(self, state_machine_arn: str, what: str = "the workflow") -> None:
        self.state_machine_arn = state_machine_arn
        self.what = what  # for the caller's error: "Could not start <what>; try again."

    def start(self, name: str, payload: Mapping[str, Any]) -> None:
        """Start `name`. Step Functions itself makes this idempotent: the same name and input while that
        execution runs returns it; once it has ended, the name is taken (ExecutionAlreadyExists), which
        for us also means "already started", never a second execution."""
        try:
            aws.stepfunctions().start_execution(
                stateMachineArn=self.state_machine_arn, name=name, input=json.dumps(payload, sort_keys=True)
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ExecutionAlreadyExists":
                return
            raise DependencyUnavailableError(f"Could not start {self.what}; try again.") from exc
        except BotoCoreError as exc:
            raise DependencyUnavailableError(f"Could not start {self.what}; try again.") from exc
