"""Make moto's DynamoDB apply each request atomically, as DynamoDB does, and keep its streams attached
when a transaction is cancelled.

moto evaluates a ConditionExpression and then writes, in Python, with no lock; its server answers on
many threads. Two conditional writes racing on one item can then both pass the same condition, which
DynamoDB never allows (conditional writes are how the login throttle takes a failure slot, how a
refresh token is spent once, how an email is claimed by one account). `install` serialises DynamoDB
requests in this process with one lock. It is internal moto API (`DynamoHandler.call_action`), pinned
with moto; tests/unit/test_auth_adapters.py (parallel failure slots) fails if it stops working.

A cancelled TransactWriteItems rolls back in moto by putting deep copies of the tables back, stream shard
included, while every shard iterator handed out still points at the old shard: from then on a stream
poller reads a shard nothing writes to, and the table's stream is silent for good (a beacon sent twice,
a usage part delivered twice, a version conflict: any cancelled transaction did it). `install` also wraps
the rollback: the table keeps its shard, less the records of the writes that were rolled back.
tests/integration/test_local_cloud.py fails if it stops working.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.responses import DynamoHandler

_original_call_action = DynamoHandler.call_action
_original_transact = DynamoDBBackend.transact_write_items
_lock = threading.RLock()


def _atomic_call_action(self: DynamoHandler) -> Any:
    with _lock:
        return _original_call_action(self)


def _transact_keeping_streams(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
    names = {str(next(iter(item.values())).get("TableName")) for item in transact_items}
    shards = {
        name: (shard, len(shard.items))
        for name in names
        if name in self.tables and (shard := self.tables[name].stream_shard) is not None
    }
    try:
        _original_transact(self, transact_items)
    except Exception:
        for name, (shard, length) in shards.items():
            del shard.items[length:]  # the rolled-back writes never happened: no records of them
            restored = self.tables.get(name)
            if restored is not None and restored.stream_shard is not shard:
                restored.stream_shard = shard
                shard.table = restored
        raise


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
        DynamoDBBackend.transact_write_items = _transact_keeping_streams  # type: ignore[method-assign]

    def uninstall() -> None:
        with _lock:
            _holders.discard(holder)
            if not _holders:
                DynamoHandler.call_action = _original_call_action  # type: ignore[method-assign]
                DynamoDBBackend.transact_write_items = _original_transact  # type: ignore[method-assign]

    return uninstall
