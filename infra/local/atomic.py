"""DynamoDB's per-request atomicity, which moto's threaded server does not give.

In DynamoDB a conditional write, and a transaction as a whole, is atomic: its conditions are checked
and its writes applied with no other write in between. moto's server handles requests on threads and
checks, then writes, with nothing held, so two concurrent conditional writes can both pass (two
creates can both fit in the last free bytes of a storage quota). Serialising DynamoDB requests in the
local cloud restores what the code relies on; they are in-memory and take microseconds.
"""

from __future__ import annotations

import functools
import threading
from typing import Any

from moto.dynamodb.responses import DynamoHandler

_lock = threading.RLock()


def make_dynamodb_requests_atomic() -> None:
    """Patch moto's DynamoDB handler (in this process, where the local cloud runs moto) once."""
    if getattr(DynamoHandler.call_action, "_skyreel_atomic", False):
        return
    unlocked = DynamoHandler.call_action

    @functools.wraps(unlocked)
    def call_action(self: DynamoHandler, *args: Any, **kwargs: Any) -> Any:
        with _lock:
            return unlocked(self, *args, **kwargs)

    call_action._skyreel_atomic = True  # type: ignore[attr-defined]
    DynamoHandler.call_action = call_action  # type: ignore[method-assign]
