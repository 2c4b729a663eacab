"""Data access for the usage aggregates in the analytics table (their key layout lives here, nowhere else),
and the auth domain's API keys, through the auth domain's own data access.

The analytics table (pk/sk):
    USAGE#<user>             <day>#<key>#<method>#<route>#<class>   a full-grain cell: count, latency sum, sketch
    USAGEDAY#<user>          <day>#<class>                          the user's day (rollup)
    USAGEKEY#<user>#<key>    <day>#<class>                          a key's day (rollup)
    USAGEBATCH#<batch id>    PART#<n>                               a part applied (expires after 35 days)

A summary or a day reads at most 4 rollup cells a day; per-route answers and exports read the full grain.

A part is applied in one transaction: its marker (written only if absent) and each cell, written only
if it still has the version that was read. The aggregator is the single writer (reserved concurrency 1),
so the version check only guards against a mistake; a lost race is read again and retried.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from datetime import date
from typing import Any

from botocore.exceptions import ClientError

from functions.analytics.usage import sketches
from functions.analytics.usage.ports import ALL, Cell, CellKey
from functions.auth.dal import ApiKeyTable
from functions.shared import aws
from functions.shared.dependency import dependency, error_code
from functions.shared.dynamo import cancellation_reasons, from_item, key, to_item

TABLE = "the analytics table"
MARKER_TTL_S = 35 * 24 * 3600  # longer than SQS keeps a message (14 days) or the DLQ (14 days)
ATTEMPTS = 5
_LAST = "\uffff"  # sorts after any character a key can hold


def _partition(user_id: str, api_key_id: str | None, detail: bool) -> str:
    if detail:
        return f"USAGE#{user_id}"
    if api_key_id is None or api_key_id == ALL:
        return f"USAGEDAY#{user_id}"
    return f"USAGEKEY#{user_id}#{api_key_id}"


def _item_key(cell_key: CellKey) -> tuple[str, str]:
    day = cell_key.day.isoformat()
    if cell_key.is_rollup:
        return _partition(cell_key.user_id, cell_key.api_key_id, False), f"{day}#{cell_key.status_class}"
    sort_key = "#".join((day, cell_key.api_key_id, cell_key.method, cell_key.route, cell_key.status_class))
    return _partition(cell_key.user_id, None, True), sort_key


def _cell_key(cell_key: CellKey) -> dict[str, Any]:
    return key(*_item_key(cell_key))


def _marker_key(batch_id: str, part: int) -> dict[str, Any]:
    return key(f"USAGEBATCH#{batch_id}", f"PART#{part}")


def _cell_from(item: Mapping[str, Any]) -> tuple[CellKey, Cell]:
    values = from_item(item)
    cell_key = CellKey(
        day=date.fromisoformat(values["day"]),
        user_id=values["user_id"],
        api_key_id=values["api_key_id"],
        method=values["method"],
        route=values["route"],
        status_class=values["status_class"],
    )
    cell = Cell(int(values["count"]), float(values["latency_sum_ms"]), sketches.loads(values["sketch"]))
    return cell_key, cell


class DynamoUsageAggregates:
    """`UsageAggregates` on the analytics table."""

    def __init__(self, table_name: str, client: Callable[[], Any] = aws.dynamodb) -> None:
        self.table = table_name
        self._client = client

    def apply(self, batch_id: str, part: int, cells: Mapping[CellKey, Cell]) -> bool:
        for _ in range(ATTEMPTS):
            outcome = self._try_apply(batch_id, part, cells)
            if outcome is not None:
                return outcome
        raise RuntimeError(f"usage batch {batch_id} part {part}: cells kept changing under the writer")

    def _applied(self, batch_id: str, part: int) -> bool:
        with dependency(TABLE):
            found = self._client().get_item(
                TableName=self.table, Key=_marker_key(batch_id, part), ConsistentRead=True
            )
        return "Item" in found

    def _try_apply(self, batch_id: str, part: int, cells: Mapping[CellKey, Cell]) -> bool | None:
        """True: applied; False: applied before; None: a cell changed since it was read (try again)."""
        if self._applied(batch_id, part):
            return False
        current = self._current(list(cells))
        marker = {
            "Put": {
                "TableName": self.table,
                "Item": {
                    **_marker_key(batch_id, part),
                    **to_item({"cells": len(cells), "expires_at": int(time.time()) + MARKER_TTL_S}),
                },
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }
        writes = [marker] + [self._cell_write(k, c, current.get(_item_key(k))) for k, c in cells.items()]
        try:
            with dependency(TABLE):
                self._client().transact_write_items(TransactItems=writes)
        except ClientError as exc:
            if error_code(exc) != "TransactionCanceledException":
                raise
            reasons = cancellation_reasons(exc)
            if reasons and reasons[0] == "ConditionalCheckFailed":
                return False  # the marker exists: another delivery applied this part meanwhile
            return None
        return True

    def _current(self, cell_keys: list[CellKey]) -> dict[tuple[str, str], tuple[int, Cell]]:
        """The stored version and value of each cell that exists, by item key."""
        found: dict[tuple[str, str], tuple[int, Cell]] = {}
        pending = [_cell_key(k) for k in cell_keys]
        while pending:
            request = {self.table: {"Keys": pending[:100], "ConsistentRead": True}}
            pending = pending[100:]
            while request:
                with dependency(TABLE):
                    answer = self._client().batch_get_item(RequestItems=request)
                for item in answer["Responses"].get(self.table, []):
                    _, cell = _cell_from(item)
                    found[(item["pk"]["S"], item["sk"]["S"])] = (int(item["version"]["N"]), cell)
                request = answer.get("UnprocessedKeys") or {}
        return found

    def _cell_write(self, cell_key: CellKey, delta: Cell, current: tuple[int, Cell] | None) -> dict[str, Any]:
        total = Cell()
        version = 0
        if current is not None:
            version, stored = current
            total.merge(stored)
        total.merge(delta)
        values: dict[str, Any] = {
            "user_id": cell_key.user_id,
            "day": cell_key.day.isoformat(),
            "api_key_id": cell_key.api_key_id,
            "method": cell_key.method,
            "route": cell_key.route,
            "status_class": cell_key.status_class,
            "count": total.count,
            "latency_sum_ms": total.latency_sum_ms,
            "sketch": sketches.dumps(total.sketch),
            "version": version + 1,
        }
        put: dict[str, Any] = {"TableName": self.table, "Item": {**_cell_key(cell_key), **to_item(values)}}
        if current is None:
            put["ConditionExpression"] = "attribute_not_exists(pk)"
        else:
            put["ConditionExpression"] = "version = :v"
            put["ExpressionAttributeValues"] = {":v": {"N": str(version)}}
        return {"Put": put}

    def cells(
        self, user_id: str, first: date, last: date, api_key_id: str | None = None, detail: bool = False
    ) -> Iterator[tuple[CellKey, Cell]]:
        query = {
            "KeyConditionExpression": "pk = :pk AND sk BETWEEN :a AND :b",
            "ExpressionAttributeValues": {
                ":pk": {"S": _partition(user_id, api_key_id, detail)},
                ":a": {"S": first.isoformat()},
                ":b": {"S": f"{last.isoformat()}#{_LAST}"},
            },
            "ConsistentRead": True,
        }
        with dependency(TABLE):
            pages = self._client().get_paginator("query").paginate(TableName=self.table, **query)
            for page in pages:
                for item in page["Items"]:
                    yield _cell_from(item)


class AuthKeyOwners:
    """`KeyOwners` through the auth domain's own data access (its table's key layout stays there)."""

    def __init__(self, auth_table: str, client: Callable[[], Any] = aws.dynamodb) -> None:
        self._keys = ApiKeyTable(auth_table, client)

    def owns(self, user_id: str, api_key_id: str) -> bool:
        return self._keys.get_api_key(user_id, api_key_id) is not None
