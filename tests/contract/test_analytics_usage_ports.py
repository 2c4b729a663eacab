"""One set of assertions per usage port, on the fake and on the adapter (moto): `UsageAggregates`
(the analytics table), `LogObjects` (S3) and `KeyOwners` (the auth domain's API keys)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import boto3
import pytest
from moto import mock_aws

from functions.analytics.usage.dal import AuthKeyOwners, DynamoUsageAggregates
from functions.analytics.usage.ports import ALL, Cell, CellKey, KeyOwners, LogObjects, UsageAggregates
from functions.analytics.usage.storage import S3LogObjects
from functions.auth.dal import ApiKeyTable
from functions.auth.models import ApiKeyRecord
from functions.shared import aws
from functions.shared.errors import NotFoundError
from infra.local.provision import _table_request
from infra.topology import TOPOLOGY
from tests.fakes.analytics_usage import MemoryKeyOwners, MemoryLogObjects, MemoryUsageAggregates

DAY = date(2026, 11, 30)


@pytest.fixture
def moto_tables() -> Iterator[None]:
    with mock_aws():
        aws.reset_clients()
        ddb = boto3.client("dynamodb")
        for table_id in ("analytics", "auth"):
            ddb.create_table(**_table_request(TOPOLOGY.table(table_id), table_id))
        yield
    aws.reset_clients()


@pytest.fixture(params=["fake", "dynamodb"])
def aggregates(request: pytest.FixtureRequest) -> Iterator[UsageAggregates]:
    if request.param == "fake":
        yield MemoryUsageAggregates()
        return
    request.getfixturevalue("moto_tables")
    yield DynamoUsageAggregates("analytics")


def cell(*latencies: float) -> Cell:
    made = Cell()
    for value in latencies:
        made.add(value)
    return made


def key_of(
    day: date = DAY, user: str = "u1", api_key: str = "k1", route: str = "/a", status: str = "2xx"
) -> CellKey:
    return CellKey(day, user, api_key, "GET", route, status)


def test_applied_cells_add_up_and_a_part_applies_once(aggregates: UsageAggregates) -> None:
    assert aggregates.apply("batch", 0, {key_of(): cell(1, 2, 3)})
    assert aggregates.apply("other", 0, {key_of(): cell(10)})
    assert not aggregates.apply("batch", 0, {key_of(): cell(1, 2, 3)})
    [(found_key, found)] = list(aggregates.cells("u1", DAY, DAY, detail=True))
    assert found_key == key_of()
    assert found.count == 4
    assert found.latency_sum_ms == pytest.approx(16)
    assert found.sketch.count == 4
    assert found.sketch.get_quantile_value(1.0) == pytest.approx(10, rel=0.01)


def rollup(day: date = DAY, user: str = "u1", api_key: str = ALL, status: str = "2xx") -> CellKey:
    return CellKey(day, user, api_key, ALL, ALL, status)


def test_cells_are_the_users_own_within_the_days_by_grain(aggregates: UsageAggregates) -> None:
    cells = {
        key_of(): cell(1),
        key_of(api_key="-", route="/b"): cell(2),
        key_of(user="u2"): cell(3),
        key_of(day=date(2026, 11, 29)): cell(4),
        key_of(day=date(2026, 12, 1), status="5xx"): cell(5),
        rollup(): cell(1, 2),
        rollup(api_key="k1"): cell(1),
        rollup(api_key="k1", day=date(2026, 12, 1), status="5xx"): cell(5),
        rollup(user="u2"): cell(3),
    }
    assert aggregates.apply("b", 0, cells)
    assert {k.route for k, _ in aggregates.cells("u1", DAY, DAY, detail=True)} == {"/a", "/b"}
    assert len(list(aggregates.cells("u1", date(2026, 11, 29), date(2026, 12, 1), detail=True))) == 4
    [(total_key, total)] = list(aggregates.cells("u1", DAY, DAY))
    assert (total_key, total.count) == (rollup(), 2)
    keyed = list(aggregates.cells("u1", date(2026, 11, 1), date(2026, 12, 31), api_key_id="k1"))
    assert sorted((k.day, k.status_class) for k, _ in keyed) == [(DAY, "2xx"), (date(2026, 12, 1), "5xx")]
    assert list(aggregates.cells("u1", DAY, DAY, api_key_id="k2")) == []
    assert list(aggregates.cells("u3", DAY, DAY, detail=True)) == []


@pytest.fixture(params=["fake", "s3"])
def objects(request: pytest.FixtureRequest) -> Iterator[tuple[LogObjects, dict[str, bytes]]]:
    content = {"requests/dt=2026-11-30/one": b'{"a":1}\n'}
    if request.param == "fake":
        fake = MemoryLogObjects()
        fake.objects.update({("usage-logs", k): v for k, v in content.items()})
        yield fake, content
        return
    with mock_aws():
        aws.reset_clients()
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="usage-logs")
        for name, body in content.items():
            s3.put_object(Bucket="usage-logs", Key=name, Body=body)
        yield S3LogObjects(), content
    aws.reset_clients()


def test_objects_read_back_and_a_missing_one_is_not_found(
    objects: tuple[LogObjects, dict[str, bytes]],
) -> None:
    store, content = objects
    for name, body in content.items():
        assert store.read("usage-logs", name) == body
    with pytest.raises(NotFoundError):
        store.read("usage-logs", "requests/dt=2026-11-30/gone")


@pytest.fixture(params=["fake", "auth_table"])
def owners(request: pytest.FixtureRequest) -> Iterator[KeyOwners]:
    if request.param == "fake":
        yield MemoryKeyOwners({"key-1": "u1"})
        return
    request.getfixturevalue("moto_tables")
    ApiKeyTable("auth").create_api_key(
        ApiKeyRecord(
            id="key-1",
            user_id="u1",
            name="ci",
            prefix="skr_abcdef01",
            fingerprint="f" * 64,
            scopes=["analytics:read"],
            created_at="2026-11-30T00:00:00Z",
        )
    )
    yield AuthKeyOwners("auth")


def test_a_key_belongs_to_its_maker_only(owners: KeyOwners) -> None:
    assert owners.owns("u1", "key-1")
    assert not owners.owns("u2", "key-1")
    assert not owners.owns("u1", "key-2")
