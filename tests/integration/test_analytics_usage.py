"""API usage analytics through the local cloud's front door: every request recorded (gateway -> access
log -> S3 -> queue -> the one aggregator), exact counts under concurrent load, no double counting on
redelivery, percentiles within the sketch's bound of the raw records, export round trips, isolation."""

from __future__ import annotations

import csv
import io
import json
import math
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from functions.analytics.usage.sketches import RELATIVE_ACCURACY
from infra.local.cloud import LocalCloud
from tests.integration.conftest import User, eventually, sign_up

pytestmark = pytest.mark.integration

AUTH = "/api/v1/auth"
ANALYTICS = "/api/v1/analytics"
N = 60  # within the free plan's burst (100): every request is served, none throttled
BUCKET = "usage_logs"
QUEUE = "usage_objects"


def _key(http: httpx.Client, user: User) -> dict[str, Any]:
    created = http.post(
        f"{AUTH}/api-keys",
        headers=user.headers,
        json={"name": "load", "scopes": ["videos:read", "analytics:read"]},
    )
    assert created.status_code == 201, created.text
    return dict(created.json())


def _load(http: httpx.Client, key: str, n: int) -> Counter[int]:
    """n requests at once with one API key: a mix of 200s and 404s on two routes."""
    paths = [("/api/v1/videos" if i % 3 else f"/api/v1/videos/missing-{i}") for i in range(n)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(lambda p: http.get(p, headers={"X-API-Key": key}).status_code, paths))
    return Counter(statuses)


def _key_usage(http: httpx.Client, user: User, key_id: str, path: str = "usage") -> dict[str, Any]:
    answer = http.get(f"{ANALYTICS}/api-keys/{key_id}/{path}", headers=user.headers)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def _queue_drained(cloud: LocalCloud) -> bool:
    attributes = cloud.aws.client("sqs").get_queue_attributes(
        QueueUrl=cloud.names.queue_url(QUEUE),
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return (
        attributes["ApproximateNumberOfMessages"] == "0"
        and attributes["ApproximateNumberOfMessagesNotVisible"] == "0"
    )


def _objects(cloud: LocalCloud) -> list[str]:
    s3 = cloud.aws.client("s3")
    pages = s3.get_paginator("list_objects_v2").paginate(
        Bucket=cloud.names.bucket(BUCKET), Prefix="requests/"
    )
    return [o["Key"] for page in pages for o in page.get("Contents", [])]


def _raw_records(cloud: LocalCloud) -> list[dict[str, str]]:
    s3 = cloud.aws.client("s3")
    found = []
    for key in _objects(cloud):
        body = s3.get_object(Bucket=cloud.names.bucket(BUCKET), Key=key)["Body"].read().decode()
        found.extend(json.loads(line) for line in body.splitlines() if line.strip())
    return found


def _exact(values: list[float], q: float) -> float:
    """The quantile as DDSketch defines it: the value of rank floor(q * (n - 1)) in sorted order."""
    ordered = sorted(values)
    return ordered[math.floor(q * (len(ordered) - 1))]


@pytest.fixture(scope="module")
def loaded(http: httpx.Client, cloud: LocalCloud) -> dict[str, Any]:
    user = sign_up(http)
    key = _key(http, user)
    statuses = _load(http, key["key"], N)
    assert sum(statuses.values()) == N, statuses
    assert set(statuses) <= {200, 404}, statuses
    eventually(lambda: _key_usage(http, user, key["id"])["total_requests"] >= N, timeout=60, interval=0.5)
    return {"user": user, "key": key, "statuses": statuses}


def test_a_concurrent_load_is_counted_exactly(
    http: httpx.Client, cloud: LocalCloud, loaded: dict[str, Any]
) -> None:
    user, key, statuses = loaded["user"], loaded["key"], loaded["statuses"]
    eventually(lambda: _queue_drained(cloud), timeout=30)
    usage = _key_usage(http, user, key["id"])
    assert usage["total_requests"] == N
    assert usage["api_key_id"] == key["id"]
    assert usage["to"] == str(datetime.now(UTC).date())
    assert usage["from"] == str(datetime.now(UTC).date() - timedelta(days=29))
    assert usage["client_errors"] == statuses[404]
    assert usage["server_errors"] == 0
    assert usage["success_rate"] == pytest.approx(statuses[200] / N)
    daily = _key_usage(http, user, key["id"], "usage/daily")
    assert sum(d["total_requests"] for d in daily["days"]) == N
    assert len(daily["days"]) == 30  # the default range, every day listed


def test_redelivery_does_not_count_twice(
    http: httpx.Client, cloud: LocalCloud, loaded: dict[str, Any]
) -> None:
    user, key = loaded["user"], loaded["key"]
    eventually(lambda: _key_usage(http, user, key["id"])["total_requests"] == N, timeout=30)
    bucket = cloud.names.bucket(BUCKET)
    s3, sqs = cloud.aws.client("s3"), cloud.aws.client("sqs")
    keys = _objects(cloud)
    # The same objects' notifications again (an SQS redelivery) ...
    for object_key in keys:
        notification = {
            "Records": [
                {
                    "eventName": "ObjectCreated:Put",
                    "s3": {"bucket": {"name": bucket}, "object": {"key": object_key}},
                }
            ]
        }
        sqs.send_message(QueueUrl=cloud.names.queue_url(QUEUE), MessageBody=json.dumps(notification))
    # ... and the same records in new objects (a Firehose retry delivering its buffer twice).
    for object_key in keys:
        s3.copy_object(
            Bucket=bucket,
            Key=object_key.replace("/amazon-", "/copy-amazon-"),
            CopySource={"Bucket": bucket, "Key": object_key},
        )
    eventually(lambda: _queue_drained(cloud), timeout=60, interval=0.5)
    assert _key_usage(http, user, key["id"])["total_requests"] == N


def test_percentiles_are_within_the_sketch_bound_of_the_raw_records(
    http: httpx.Client, cloud: LocalCloud, loaded: dict[str, Any]
) -> None:
    user, key = loaded["user"], loaded["key"]
    raw = {r["requestId"]: r for r in _raw_records(cloud) if r["apiKeyId"] == key["id"]}
    assert len(raw) == N  # the raw log on S3 (the Athena path) holds every request once
    latencies = [float(r["responseLatency"]) for r in raw.values()]
    usage = _key_usage(http, user, key["id"])
    for field, q in (("p50_ms", 0.5), ("p95_ms", 0.95), ("p99_ms", 0.99)):
        exact = _exact(latencies, q)
        assert abs(usage[field] - exact) <= RELATIVE_ACCURACY * exact + 1e-9, (field, usage[field], exact)
    assert usage["avg_ms"] == pytest.approx(sum(latencies) / N)


def test_export_round_trips(http: httpx.Client, loaded: dict[str, Any]) -> None:
    user, key = loaded["user"], loaded["key"]
    as_json = http.get(f"{ANALYTICS}/export", params={"format": "json"}, headers=user.headers)
    as_csv = http.get(f"{ANALYTICS}/export", params={"format": "csv"}, headers=user.headers)
    assert as_json.status_code == 200, as_json.text
    assert as_csv.status_code == 200, as_csv.text
    assert as_csv.headers["content-type"].startswith("text/csv")
    reader = csv.DictReader(io.StringIO(as_csv.text))
    assert reader.fieldnames is not None
    assert reader.fieldnames[:4] == ["date", "api_key_id", "method", "route"]
    csv_rows = list(reader)
    json_rows = as_json.json()["rows"]
    assert len(csv_rows) == len(json_rows)
    for from_csv, from_json in zip(csv_rows, json_rows, strict=True):
        for name, value in from_json.items():
            if value is None:
                assert from_csv[name] == ""
            elif isinstance(value, int | float):
                assert float(from_csv[name]) == pytest.approx(value, rel=1e-12)
            else:
                assert from_csv[name] == str(value)
    keyed = [r for r in json_rows if r["api_key_id"] == key["id"]]
    assert sum(r["total_requests"] for r in keyed) == N
    assert {(r["method"], r["route"]) for r in keyed} == {
        ("GET", "/api/v1/videos"),
        ("GET", "/api/v1/videos/{video_id}"),
    }
    # Every day's rows add up to the daily API's figure for that day.
    daily = http.get(f"{ANALYTICS}/usage/daily", headers=user.headers).json()["days"]
    per_day = Counter[str]()
    for row in json_rows:
        per_day[row["date"]] += row["total_requests"]
    for day in daily:
        assert per_day[day["date"]] == day["total_requests"]
    endpoints = http.get(f"{ANALYTICS}/usage/endpoints", headers=user.headers).json()["endpoints"]
    assert sum(e["total_requests"] for e in endpoints) == sum(per_day.values())


def test_another_users_key_is_not_found(http: httpx.Client, loaded: dict[str, Any]) -> None:
    other = sign_up(http)
    key_id = loaded["key"]["id"]
    for path in ("usage", "usage/daily"):
        answer = http.get(f"{ANALYTICS}/api-keys/{key_id}/{path}", headers=other.headers)
        assert answer.status_code == 404, answer.text
        assert answer.json()["error"]["code"] == "not_found"
    assert http.get(f"{ANALYTICS}/api-keys/nope/usage", headers=loaded["user"].headers).status_code == 404
    # A user sees only their own usage: the other account has made no keyed requests.
    mine = http.get(f"{ANALYTICS}/usage/endpoints", headers=other.headers).json()["endpoints"]
    assert all(e["route"] != "/api/v1/videos/{video_id}" for e in mine)


def test_bad_ranges_and_formats_are_422_and_change_nothing(
    http: httpx.Client, cloud: LocalCloud, loaded: dict[str, Any]
) -> None:
    user, key = loaded["user"], loaded["key"]
    today = datetime.now(UTC).date()
    before = _key_usage(http, user, key["id"])
    cases = [
        (f"{ANALYTICS}/usage", {"from": str(today), "to": str(today - timedelta(days=1))}),
        (f"{ANALYTICS}/usage/daily", {"from": str(today - timedelta(days=400)), "to": str(today)}),
        (f"{ANALYTICS}/usage/endpoints", {"from": "2026-02-30"}),
        (f"{ANALYTICS}/usage", {"to": "yesterday"}),
        (f"{ANALYTICS}/usage", {"to": "0"}),  # a Unix time is not a day (it was 1970-01-01)
        (f"{ANALYTICS}/usage/daily", {"from": "20260101"}),
        (f"{ANALYTICS}/export", {"format": "xml"}),
        (f"{ANALYTICS}/export", {}),
        (
            f"{ANALYTICS}/api-keys/{key['id']}/usage",
            {"from": str(today), "to": str(today - timedelta(days=3))},
        ),
    ]
    for path, params in cases:
        answer = http.get(path, params=params, headers=user.headers)
        assert answer.status_code == 422, (path, params, answer.text)
        assert set(answer.json()["error"]) == {"code", "message", "details"}
        assert answer.json()["error"]["code"] == "validation_failed"
    eventually(lambda: _queue_drained(cloud), timeout=30)
    assert _key_usage(http, user, key["id"]) == before
