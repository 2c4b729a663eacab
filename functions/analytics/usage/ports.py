"""What the usage logic needs from the outside, as Protocols, and the aggregate's value types.
Adapters: dal.py (the analytics table; the auth domain's API keys), storage.py (the delivered objects).
Fakes: tests/fakes/analytics_usage.py."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Protocol

from ddsketch import DDSketch

from functions.analytics.usage.sketches import new_sketch

ALL = "*"  # a rollup's dimension: every key, method or route (no real key, method or route is `*`)


@dataclass(frozen=True, order=True)
class CellKey:
    """The aggregate's grain: one user's requests of one day, with one key, to one route, in one status
    class (`2xx` ... `5xx`). `api_key_id` is models.NO_KEY for requests with a bearer token.

    Two rollups are kept besides, so a summary or a day's figures read a few cells at any volume: the
    user's day (key, method and route ALL) and a key's day (method and route ALL)."""

    day: date
    user_id: str
    api_key_id: str
    method: str
    route: str
    status_class: str

    @property
    def is_rollup(self) -> bool:
        return self.route == ALL


@dataclass
class Cell:
    """How many requests, their summed latency, and their latency sketch: all merge by addition."""

    count: int = 0
    latency_sum_ms: float = 0.0
    sketch: DDSketch = field(default_factory=new_sketch)

    def add(self, latency_ms: float) -> None:
        self.count += 1
        self.latency_sum_ms += latency_ms
        self.sketch.add(latency_ms)

    def merge(self, other: Cell) -> None:
        self.count += other.count
        self.latency_sum_ms += other.latency_sum_ms
        self.sketch.merge(other.sketch)


class UsageAggregates(Protocol):
    def apply(self, batch_id: str, part: int, cells: Mapping[CellKey, Cell]) -> bool:
        """Add `cells` to the stored aggregates and remember (batch_id, part) as applied, atomically: all
        of it or nothing. False, changing nothing, if that part was applied before (a redelivery)."""
        ...

    def cells(
        self, user_id: str, first: date, last: date, api_key_id: str | None = None, detail: bool = False
    ) -> Iterator[tuple[CellKey, Cell]]:
        """The user's cells of the days first..last (both included): with `detail`, the full-grain cells;
        else the rollups: one key's (`api_key_id`), or the user's (key, method and route ALL)."""
        ...


class LogObjects(Protocol):
    def read(self, bucket: str, key: str) -> bytes:
        """A delivered access-log object's bytes; domain NotFoundError if it is gone."""
        ...


class KeyOwners(Protocol):
    def owns(self, user_id: str, api_key_id: str) -> bool:
        """Whether the user made that API key (revoked keys included: their usage is still theirs)."""
        ...


Records = Iterable[Mapping[str, object]]
