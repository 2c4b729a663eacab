"""Make moto's DynamoDB apply each request atomically, as DynamoDB does.

moto evaluates a ConditionExpression and then writes, in Python, with no lock; its server answers on
many threads. Two conditional writes racing on one item can then both pass the same condition, which
DynamoDB never allows (conditional writes are how the login throttle takes a failure slot, how a
refresh token is spent once, how an email is claimed by one account). `install` serialises DynamoDB
requests in this process with one lock. It is internal moto API (`DynamoHandler.call_action`), pinned
with moto; tests/unit/test_auth_adapters.py (parallel failure slots) fails if it stops working.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from moto.dynamodb.responses import DynamoHandler

_original_call_action = DynamoHandler.call_action
_lock = threading.RLock()


def _atomic_call_action(self: DynamoHandler) -> Any:
    with _lock:
        return _original_call_action(self)


_holders: set[object] = (
    set()
)  # clouds (or tests) in this process that need the lock; the last to go removes it


def install() -> Callable[[], None]:
    """Serialise DynamoDB requests (process-wide; one cloud stopping leaves another's lock in place).
    Returns the undo."""
    holder = object()
    with _lock:
        _holders.add(holder)
        DynamoHandler.call_action = _atomic_call_action  # type: ignore[method-assign]

    def uninstall() -> None:
        with _lock:
            _holders.discard(holder)
            if not _holders:
                DynamoHandler.call_action = _original_call_action  # type: ignore[method-assign]

    return uninstall
