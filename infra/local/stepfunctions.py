"""Route Step Functions' Lambda tasks to the local runtime.

moto executes state machines (with `execute_state_machine` on) and calls Lambda over its own HTTP API;
without Docker that lands in `LambdaSimpleBackend.invoke`, which only echoes the payload. We replace
that one method so a task runs the real handler. It is internal moto API: moto is pinned in the lock,
and tests/integration/test_local_cloud.py fails loudly if this hook stops being called.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from moto.awslambda_simple.models import LambdaSimpleBackend

from infra.local.runtime import InvocationError, LambdaRuntime

_original_invoke = LambdaSimpleBackend.invoke
calls = 0  # how many task invocations went through the hook (tests read it)


def _function_id(function_name: str, by_name: dict[str, str]) -> str:
    name = function_name.rsplit(":function:", maxsplit=1)[-1].split(":", maxsplit=1)[
        0
    ]  # an ARN, a partial ARN or a name
    return by_name.get(name, name)


def install(runtime: LambdaRuntime, function_names: dict[str, str]) -> Callable[[], None]:
    """Send Lambda invocations to `runtime`. `function_names` maps local function names to ids."""

    def invoke(
        self: LambdaSimpleBackend,
        function_name: str,
        qualifier: str | None,
        body: Any,
        headers: Any,
        response_headers: Any,
    ) -> bytes:
        global calls  # noqa: PLW0603 - a process-wide counter is the point
        calls += 1
        payload = json.loads(body) if body else {}
        try:
            result = runtime.invoke(_function_id(function_name, function_names), payload).result
        except InvocationError as exc:
            response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps(exc.payload()).encode()
        return json.dumps(result).encode()

    LambdaSimpleBackend.invoke = invoke  # type: ignore[method-assign]

    def uninstall() -> None:
        LambdaSimpleBackend.invoke = _original_invoke  # type: ignore[method-assign]

    return uninstall
