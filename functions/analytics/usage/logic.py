"""Usage analytics use cases: fold delivered access records into the aggregates exactly once, and answer
the usage API from the aggregates (never from raw records).

Exactly once: a delivered object's records are identified by the digest of their request ids (a batch),
so the same object delivered twice, or the same records delivered again in another object (a Firehose
retry re-sends its buffer), is the same batch. A batch's cells are applied in deterministic parts, each
atomically with a marker (`UsageAggregates.apply`), so a crash between parts and the redelivery that
follows apply each part once.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta

from pydantic import ValidationError

from functions.analytics.usage.models import (
    MAX_RANGE_DAYS,
    NO_KEY,
    AccessRecord,
    DailyRow,
    DailyUsage,
    EndpointRow,
    EndpointUsage,
    ExportRow,
    Figures,
    UsageExport,
    UsageSummary,
)
from functions.analytics.usage.ports import ALL, Cell, CellKey, KeyOwners, LogObjects, UsageAggregates
from functions.analytics.usage.sketches import quantile
from functions.shared.errors import NotFoundError, ValidationFailedError

PART_CELLS = 99  # cells per atomic part: with its marker, DynamoDB's 100 items per transaction
DEFAULT_RANGE_DAYS = 30


# --- ingest ------------------------------------------------------------------------------------------


def parse_records(data: bytes) -> tuple[list[AccessRecord], int]:
    """The access records in a delivered object, and how many entries were not records.

    Firehose concatenates what it is given: API Gateway's records, one JSON object each, with or without
    newlines between them, so the object is read as a sequence of JSON values."""
    text = data.decode("utf-8", errors="replace")
    decoder = json.JSONDecoder()
    records: list[AccessRecord] = []
    malformed = 0
    position, end = 0, len(text)
    while True:
        while position < end and text[position].isspace():
            position += 1
        if position >= end:
            return records, malformed
        try:
            value, position = decoder.raw_decode(text, position)
            records.append(AccessRecord.model_validate(value))
        except json.JSONDecodeError:
            malformed += 1
            newline = text.find("\n", position)
            position = end if newline < 0 else newline + 1
        except ValidationError:
            malformed += 1


def unique(records: Iterable[AccessRecord]) -> list[AccessRecord]:
    """One record per request id (a record repeated inside one delivery counts once), in id order."""
    by_id = {r.request_id: r for r in records}
    return [by_id[i] for i in sorted(by_id)]


def batch_id(records: Iterable[AccessRecord]) -> str:
    """The identity of a set of records: the same records give the same id, whatever object holds them."""
    digest = hashlib.sha256()
    for request_id in sorted({r.request_id for r in records}):
        digest.update(request_id.encode())
        digest.update(b"\n")
    return digest.hexdigest()


def fold(records: Iterable[AccessRecord]) -> dict[CellKey, Cell]:
    """Records -> cells: each record in its full-grain cell and in the two rollups (its key's day, its
    user's day). Records with no user (refused before the authorizer named one) or no route (an unknown
    path) belong to nobody's usage: they stay in the raw log only.

    Each latency is added to one sketch only (its full-grain cell's); rollups merge those sketches."""
    latencies: dict[CellKey, list[float]] = {}
    for record in records:
        if record.user_id is None or record.route is None:
            continue
        fine = CellKey(
            record.day,
            record.user_id,
            record.api_key_id or NO_KEY,
            record.method,
            record.route,
            record.status_class,
        )
        found = latencies.get(fine)
        if found is None:
            latencies[fine] = [record.latency_ms]
        else:
            found.append(record.latency_ms)
    cells: dict[CellKey, Cell] = {}
    for fine, values in latencies.items():
        cell = cells[fine] = Cell()
        for value in values:
            cell.add(value)
        for rollup in (
            CellKey(fine.day, fine.user_id, fine.api_key_id, ALL, ALL, fine.status_class),
            CellKey(fine.day, fine.user_id, ALL, ALL, ALL, fine.status_class),
        ):
            cells.setdefault(rollup, Cell()).merge(cell)
    return cells


@dataclass(frozen=True)
class IngestOutcome:
    records: int  # distinct records in the object
    attributed: int  # of which folded into someone's usage
    malformed: int
    parts_applied: int
    parts_skipped: int  # applied before: a redelivery
    client_errors: int
    server_errors: int
    latency: Cell = field(default_factory=Cell)  # the batch's latencies (for the aggregator's metrics)


@dataclass
class UsageIngest:
    aggregates: UsageAggregates
    objects: LogObjects

    def ingest(self, bucket: str, key: str) -> IngestOutcome:
        records, malformed = parse_records(self.objects.read(bucket, key))
        return self.ingest_records(records, malformed)

    def ingest_records(self, records: Iterable[AccessRecord], malformed: int = 0) -> IngestOutcome:
        distinct = unique(records)
        identity = batch_id(distinct)
        cells = fold(distinct)
        ordered = sorted(cells)
        applied = skipped = 0
        for part, start in enumerate(range(0, len(ordered), PART_CELLS)):
            chunk = {k: cells[k] for k in ordered[start : start + PART_CELLS]}
            if self.aggregates.apply(identity, part, chunk):
                applied += 1
            else:
                skipped += 1
        latency = Cell()
        for record in distinct:
            latency.add(record.latency_ms)
        return IngestOutcome(
            records=len(distinct),
            attributed=sum(c.count for k, c in cells.items() if not k.is_rollup),
            malformed=malformed,
            parts_applied=applied,
            parts_skipped=skipped,
            client_errors=sum(1 for r in distinct if 400 <= r.status < 500),
            server_errors=sum(1 for r in distinct if r.status >= 500),
            latency=latency,
        )


# --- queries -----------------------------------------------------------------------------------------


def date_range(first: date | None, last: date | None, today: date) -> tuple[date, date]:
    """The range asked for, defaults filled in (to: today; from: 30 days up to `to`); a reversed range or
    one over a year is refused."""
    last = last or today
    # The default start stops at the calendar's first day (`to=0001-01-05` would overflow date).
    first = first or last - timedelta(days=min(DEFAULT_RANGE_DAYS - 1, (last - date.min).days))
    if first > last:
        raise ValidationFailedError(
            "`from` is after `to`.",
            details=[
                {"location": "query.from", "message": "must not be after `to`", "type": "range_reversed"}
            ],
        )
    if (last - first).days + 1 > MAX_RANGE_DAYS:
        raise ValidationFailedError(
            f"A range may span at most {MAX_RANGE_DAYS} days.",
            details=[
                {
                    "location": "query.to",
                    "message": f"at most {MAX_RANGE_DAYS} days after `from`",
                    "type": "range_too_long",
                }
            ],
        )
    return first, last


Classed = tuple[str, Cell]  # a cell with its status class


def figures(cells: Iterable[Classed]) -> dict[str, object]:
    """A set of cells' figures: counts added, sketches merged (the percentiles never see a raw record)."""
    total = Cell()
    client = server = 0
    for status_class, cell in cells:
        total.merge(cell)
        if status_class == "4xx":
            client += cell.count
        elif status_class == "5xx":
            server += cell.count
    n = total.count
    return {
        "total_requests": n,
        "success_rate": (n - client - server) / n if n else None,
        "client_errors": client,
        "server_errors": server,
        "avg_ms": total.latency_sum_ms / n if n else None,
        "p50_ms": quantile(total.sketch, 0.50),
        "p95_ms": quantile(total.sketch, 0.95),
        "p99_ms": quantile(total.sketch, 0.99),
    }


@dataclass
class UsageQueries:
    aggregates: UsageAggregates
    keys: KeyOwners

    def _groups(
        self, user_id: str, first: date, last: date, api_key_id: str | None, by: str
    ) -> dict[tuple[object, ...], list[Classed]]:
        """Cells grouped `by` day, endpoint or export row: summaries and days read rollups, endpoints and
        exports the full grain."""
        detail = by in ("endpoint", "row")
        groups: dict[tuple[object, ...], list[Classed]] = {}
        for cell_key, cell in self.aggregates.cells(user_id, first, last, api_key_id, detail):
            group = _group_of(cell_key, by)
            groups.setdefault(group, []).append((cell_key.status_class, cell))
        return groups

    def _check_key(self, user_id: str, api_key_id: str | None) -> None:
        if api_key_id is not None and not self.keys.owns(user_id, api_key_id):
            raise NotFoundError(f"No API key {api_key_id}.")

    def summary(self, user_id: str, first: date, last: date, api_key_id: str | None = None) -> UsageSummary:
        self._check_key(user_id, api_key_id)
        cells = [c for group in self._groups(user_id, first, last, api_key_id, "all").values() for c in group]
        return UsageSummary.model_validate(
            {"from": first, "to": last, "api_key_id": api_key_id, **figures(cells)}
        )

    def daily(self, user_id: str, first: date, last: date, api_key_id: str | None = None) -> DailyUsage:
        self._check_key(user_id, api_key_id)
        groups = self._groups(user_id, first, last, api_key_id, "day")
        days = [
            DailyRow.model_validate({"date": day, **figures(groups.get((day,), []))})
            for day in (first + timedelta(days=i) for i in range((last - first).days + 1))
        ]
        return DailyUsage.model_validate({"from": first, "to": last, "api_key_id": api_key_id, "days": days})

    def endpoints(self, user_id: str, first: date, last: date) -> EndpointUsage:
        groups = self._groups(user_id, first, last, None, "endpoint")
        rows = [
            EndpointRow.model_validate({"method": method, "route": route, **figures(cells)})
            for (method, route), cells in groups.items()
        ]
        rows.sort(key=lambda r: (-r.total_requests, r.route, r.method))
        return EndpointUsage.model_validate({"from": first, "to": last, "endpoints": rows})

    def export(self, user_id: str, first: date, last: date) -> UsageExport:
        groups = self._groups(user_id, first, last, None, "row")
        rows = [
            ExportRow.model_validate(
                {"date": day, "api_key_id": key_id, "method": method, "route": route, **figures(cells)}
            )
            for (day, key_id, method, route), cells in sorted(groups.items(), key=lambda g: str(g[0]))
        ]
        return UsageExport.model_validate({"from": first, "to": last, "rows": rows})


def _group_of(cell_key: CellKey, by: str) -> tuple[object, ...]:
    if by == "day":
        return (cell_key.day,)
    if by == "endpoint":
        return (cell_key.method, cell_key.route)
    if by == "row":
        return (cell_key.day, cell_key.api_key_id, cell_key.method, cell_key.route)
    return ()


def merged(cells: Mapping[CellKey, Cell]) -> Figures:
    """The full-grain `cells` as one set of figures (for callers holding cells, e.g. the benchmark)."""
    return Figures.model_validate(figures((k.status_class, c) for k, c in cells.items() if not k.is_rollup))
