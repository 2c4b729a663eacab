"""Fakes of the usage analytics ports (functions/analytics/usage/ports.py)."""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from datetime import date

from functions.analytics.usage.ports import ALL, Cell, CellKey
from functions.shared.errors import NotFoundError


class MemoryUsageAggregates:
    """`UsageAggregates` in memory: the cells, and the (batch, part) pairs applied. `fail_after` makes
    the N-th apply fail before it changes anything (a crash between parts)."""

    def __init__(self) -> None:
        self.stored: dict[CellKey, Cell] = {}
        self.applied: set[tuple[str, int]] = set()
        self.fail_after: int | None = None
        self.calls = 0

    def apply(self, batch_id: str, part: int, cells: Mapping[CellKey, Cell]) -> bool:
        self.calls += 1
        if self.fail_after is not None and self.calls > self.fail_after:
            raise RuntimeError("the table did not answer")
        if (batch_id, part) in self.applied:
            return False
        for cell_key, delta in cells.items():
            self.stored.setdefault(cell_key, Cell()).merge(copy.deepcopy(delta))
        self.applied.add((batch_id, part))
        return True

    def cells(
        self, user_id: str, first: date, last: date, api_key_id: str | None = None, detail: bool = False
    ) -> Iterator[tuple[CellKey, Cell]]:
        for cell_key in sorted(self.stored):
            if cell_key.user_id != user_id or not first <= cell_key.day <= last:
                continue
            if detail:
                wanted = not cell_key.is_rollup
            else:
                wanted = cell_key.is_rollup and cell_key.api_key_id == (api_key_id or ALL)
            if wanted:
                yield cell_key, copy.deepcopy(self.stored[cell_key])


class MemoryLogObjects:
    """`LogObjects` in memory: objects by (bucket, key)."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], bytes] = {}

    def read(self, bucket: str, key: str) -> bytes:
        if (bucket, key) not in self.objects:
            raise NotFoundError(f"No access-log object {key}.")
        return self.objects[(bucket, key)]


class MemoryKeyOwners:
    """`KeyOwners` in memory: which user made which key."""

    def __init__(self, owners: Mapping[str, str] | None = None) -> None:
        self.owner_of = dict(owners or {})

    def owns(self, user_id: str, api_key_id: str) -> bool:
        return self.owner_of.get(api_key_id) == user_id
