"""Usage analytics use cases on fakes: folding records exactly once, and the usage answers."""

from __future__ import annotations

import json
import math
import random
from datetime import UTC, date, datetime, timedelta

import pytest

from functions.analytics.usage import logic
from functions.analytics.usage.logic import UsageIngest, UsageQueries, date_range, parse_records
from functions.analytics.usage.models import AccessRecord
from functions.analytics.usage.sketches import RELATIVE_ACCURACY
from functions.shared.errors import NotFoundError, ValidationFailedError
from tests.fakes.analytics_usage import MemoryKeyOwners, MemoryLogObjects, MemoryUsageAggregates

DAY = date(2026, 11, 30)
ROUTE = "/api/v1/videos/{video_id}"


def record(
    i: int,
    *,
    user: str = "u1",
    key: str | None = "k1",
    status: int = 200,
    latency: float = 10.0,
    day: date = DAY,
    route: str | None = ROUTE,
    method: str = "GET",
) -> dict[str, str]:
    epoch_ms = int(datetime(day.year, day.month, day.day, 12, tzinfo=UTC).timestamp() * 1000) + i
    return {
        "requestId": f"req-{i}",
        "requestTimeEpoch": str(epoch_ms),
        "httpMethod": method,
        "resourcePath": route or "-",
        "status": str(status),
        "responseLatency": f"{latency:.3f}",
        "userId": user or "-",
        "apiKeyId": key or "-",
    }


def ndjson(records: list[dict[str, str]]) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in records).encode()


World = tuple[UsageIngest, UsageQueries, MemoryUsageAggregates, MemoryLogObjects]


@pytest.fixture
def world() -> World:
    aggregates, objects = MemoryUsageAggregates(), MemoryLogObjects()
    return (
        UsageIngest(aggregates, objects),
        UsageQueries(aggregates, MemoryKeyOwners({"k1": "u1", "k2": "u2"})),
        aggregates,
        objects,
    )


def test_records_are_read_with_or_without_newlines_and_bad_ones_counted() -> None:
    good = [record(1), record(2)]
    data = (
        json.dumps(good[0]) + json.dumps(good[1]) + "\n{broken\n" + json.dumps({"requestId": "x"})
    ).encode()
    records, malformed = parse_records(data)
    assert [r.request_id for r in records] == ["req-1", "req-2"]
    assert malformed == 2


def test_an_object_delivered_twice_counts_once(world: World) -> None:
    ingest, queries, _, objects = world
    objects.objects[("b", "one")] = ndjson([record(i) for i in range(50)])
    first = ingest.ingest("b", "one")
    again = ingest.ingest("b", "one")
    assert (first.parts_applied, first.parts_skipped) == (1, 0)
    assert (again.parts_applied, again.parts_skipped) == (0, 1)
    assert queries.summary("u1", DAY, DAY).total_requests == 50


def test_the_same_records_in_another_object_count_once(world: World) -> None:
    ingest, queries, _, objects = world
    batch = [record(i) for i in range(10)]
    objects.objects[("b", "one")] = ndjson(batch)
    objects.objects[("b", "copy")] = ndjson([*reversed(batch), batch[0]])  # reordered, one repeated
    ingest.ingest("b", "one")
    ingest.ingest("b", "copy")
    assert queries.summary("u1", DAY, DAY).total_requests == 10


def test_a_crash_between_parts_then_redelivery_applies_each_part_once(world: World) -> None:
    ingest, queries, aggregates, objects = world
    # 250 distinct routes: three parts of at most 99 cells.
    batch = [record(i, route=f"/r/{i}") for i in range(250)]
    objects.objects[("b", "big")] = ndjson(batch)
    aggregates.fail_after = 1
    with pytest.raises(RuntimeError):
        ingest.ingest("b", "big")
    # The first part (the two rollups and 97 routes), atomically; the rest not at all.
    assert len(aggregates.stored) == 99
    aggregates.fail_after = None
    outcome = ingest.ingest("b", "big")
    assert (outcome.parts_applied, outcome.parts_skipped) == (2, 1)
    assert queries.summary("u1", DAY, DAY).total_requests == 250
    assert queries.summary("u1", DAY, DAY, api_key_id="k1").total_requests == 250
    endpoints = queries.endpoints("u1", DAY, DAY).endpoints
    assert len(endpoints) == 250
    assert {e.total_requests for e in endpoints} == {1}


def test_figures_follow_the_status_classes_and_the_raw_latencies(world: World) -> None:
    ingest, queries, _, _ = world
    rng = random.Random(7)
    statuses = [200] * 70 + [304] * 5 + [404] * 15 + [429] * 4 + [500] * 6
    latencies = [rng.lognormvariate(3, 1) for _ in statuses]
    batch = [record(i, status=s, latency=v) for i, (s, v) in enumerate(zip(statuses, latencies, strict=True))]
    ingest.ingest_records([AccessRecord.model_validate(r) for r in batch])
    summary = queries.summary("u1", DAY, DAY)
    assert summary.total_requests == 100
    assert summary.success_rate == pytest.approx(0.75)
    assert (summary.client_errors, summary.server_errors) == (19, 6)
    recorded = sorted(float(r["responseLatency"]) for r in batch)
    assert summary.avg_ms == pytest.approx(sum(recorded) / 100)
    for value, q in ((summary.p50_ms, 0.5), (summary.p95_ms, 0.95), (summary.p99_ms, 0.99)):
        exact = recorded[math.floor(q * 99)]
        assert value is not None
        assert abs(value - exact) <= RELATIVE_ACCURACY * exact


def test_usage_is_the_callers_own_and_a_key_must_be_theirs(world: World) -> None:
    ingest, queries, _, _ = world
    batch = [record(i, user="u1", key="k1") for i in range(3)] + [
        record(i + 3, user="u2", key="k2") for i in range(5)
    ]
    batch += [record(9, user="", key=None), record(10, route=None)]  # nobody's; no route
    ingest.ingest_records([AccessRecord.model_validate(r) for r in batch])
    assert queries.summary("u1", DAY, DAY).total_requests == 3  # an unknown path is nobody's usage
    assert queries.summary("u2", DAY, DAY, api_key_id="k2").total_requests == 5
    with pytest.raises(NotFoundError):
        queries.summary("u1", DAY, DAY, api_key_id="k2")
    with pytest.raises(NotFoundError):
        queries.daily("u1", DAY, DAY, api_key_id="nope")


def test_daily_lists_every_day_and_endpoints_are_busiest_first(world: World) -> None:
    ingest, queries, _, _ = world
    yesterday = DAY - timedelta(days=1)
    batch = [record(i, day=yesterday, route="/a") for i in range(2)] + [
        record(i + 2, route="/b") for i in range(3)
    ]
    ingest.ingest_records([AccessRecord.model_validate(r) for r in batch])
    daily = queries.daily("u1", DAY - timedelta(days=3), DAY)
    assert [(d.date, d.total_requests) for d in daily.days] == [
        (DAY - timedelta(days=3), 0),
        (DAY - timedelta(days=2), 0),
        (yesterday, 2),
        (DAY, 3),
    ]
    assert daily.days[0].p50_ms is None
    assert [(e.route, e.total_requests) for e in queries.endpoints("u1", yesterday, DAY).endpoints] == [
        ("/b", 3),
        ("/a", 2),
    ]
    rows = queries.export("u1", yesterday, DAY).rows
    assert sum(r.total_requests for r in rows) == 5


def test_ranges_reversed_or_over_a_year_are_refused() -> None:
    assert date_range(None, None, DAY) == (DAY - timedelta(days=29), DAY)
    assert date_range(DAY - timedelta(days=365), DAY, DAY)[0] == DAY - timedelta(days=365)
    # A default start before the calendar's first day stops there (it once raised OverflowError: a 500).
    assert date_range(None, date(1, 1, 5), DAY) == (date.min, date(1, 1, 5))
    with pytest.raises(ValidationFailedError):
        date_range(DAY, DAY - timedelta(days=1), DAY)
    with pytest.raises(ValidationFailedError):
        date_range(DAY - timedelta(days=366), DAY, DAY)


def test_parts_are_at_most_a_transaction() -> None:
    assert logic.PART_CELLS + 1 <= 100
