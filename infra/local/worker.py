"""One Lambda sandbox: a process that imports one handler and serves invocations over a pipe.

Started by `infra.local.runtime` with the function's own environment, like a Lambda execution
environment: the module is imported once (the cold start), then each request is one invocation.
Protocol: one JSON object per line. fd IN carries requests, fd OUT carries the init report and one
response per request; stdout/stderr stay free for the function's logs.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import sys
import time
import traceback
import uuid
from typing import Any


class LambdaContext:
    """The context object the Lambda Python runtime passes to a handler."""

    def __init__(self, request_id: str, deadline: float) -> None:
        name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_name = name
        self.function_version = "$LATEST"
        self.invoked_function_arn = os.environ["SKYREEL_FUNCTION_ARN"]
        self.memory_limit_in_mb = int(os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"])
        self.aws_request_id = request_id
        self.log_group_name = f"/aws/lambda/{name}"
        self.log_stream_name = f"local/{os.getpid()}"
        self.identity = None
        self.client_context = None
        self._deadline = deadline

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.time()) * 1000))


# An authorizer's documented way to answer 401 (API Gateway maps a failure with exactly this message): a
# refusal, not a fault. Its authorizer logs the one line that says why; a traceback here would bury it.
# (In AWS the runtime adds one `[ERROR] Exception: Unauthorized` log event of its own.)
UNAUTHORIZED = "Unauthorized"


def _error(exc: BaseException) -> dict[str, Any]:
    return {
        "errorType": type(exc).__name__,
        "errorMessage": str(exc),
        "stackTrace": traceback.format_tb(exc.__traceback__),
    }


def main() -> None:
    # The cloud owns this sandbox's life (it stops it on shutdown, or on a timeout): a Ctrl-C meant for
    # `make dev` must not kill an invocation half-way.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    fd_in, fd_out = int(sys.argv[1]), int(sys.argv[2])
    handler_path = os.environ["_HANDLER"]
    requests = os.fdopen(fd_in, "rb")
    responses = os.fdopen(fd_out, "wb")

    def send(message: dict[str, Any]) -> None:
        responses.write(json.dumps(message, default=str).encode() + b"\n")
        responses.flush()

    started = time.perf_counter()
    try:
        module_name, _, attribute = handler_path.rpartition(".")
        handler = getattr(importlib.import_module(module_name), attribute)
    except BaseException as exc:
        send({"init": False, **_error(exc), "errorType": "Runtime.ImportModuleError"})
        return
    send({"init": True, "init_ms": (time.perf_counter() - started) * 1000})

    for line in requests:
        request = json.loads(line)
        context = LambdaContext(request.get("request_id") or str(uuid.uuid4()), request["deadline"])
        try:
            result = handler(request["event"], context)
            send({"ok": True, "result": result})
        except Exception as exc:
            if str(exc) != UNAUTHORIZED:
                traceback.print_exc()
            send({"ok": False, **_error(exc)})
        finally:
            sys.stdout.flush()
            sys.stderr.flush()


if __name__ == "__main__":
    main()
