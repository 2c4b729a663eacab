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


@dataclass(frozen=True, order=True)
class CellKey:
    """The aggregate's grain: one user's requests of one day, with one key, to one route, in one status
    class (`2xx` ... `5xx`). `api_key_id` is models.NO_KEY for requests with a bearer token."""

    day: date
    user_id: str
    api_key_id: str
    method: str
    route: str
    status_class: str


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
        self, user_id: str, first: date, last: date, api_key_id: str | None = None
    ) -> Iterator[tuple[CellKey, Cell]]:
        """The user's cells of the days first..last (both included), only one key's if given."""
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
