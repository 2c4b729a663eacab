"""The usage-analytics figures of issue 11, in one run, each against the baseline the issue defines.

- Request-path overhead of the recording: the local gateway (infra/local/gateway.py) serving a trivial
  handler in-process, with the access log emitter attached (record built + buffered; delivery to S3 on
  moto happens on its own thread) and without it, interleaved. Goal: <= 1 ms at p99.
- Usage summary over 1,000,000 recorded requests (one user, 30 days, 20 routes, 3 API keys and bearer
  tokens, 2xx/4xx/5xx): the usage API's use case (UsageQueries.summary) reading the aggregates through the
  DynamoDB adapter (moto, in-process), against computing the same figures from the 1,000,000 raw records
  already in memory (exact percentiles by sorting). Goal: <= 100 ms.
- Percentile error of the sketch against the exact values from the raw records: within the stated 1%.
- Also: the aggregator's fold rate (records/s into cells), and the per-endpoint answer (full grain).

    python -m bench.analytics_usage [--records 1000000] [--requests 20000]
"""

from __future__ import annotations

import argparse
import math
import os
import random
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

import boto3
from moto import mock_aws

from bench.stats import line, percentile
from functions.analytics.usage import logic
from functions.analytics.usage.dal import DynamoUsageAggregates
from functions.analytics.usage.logic import UsageQueries
from functions.analytics.usage.models import AccessRecord
from functions.analytics.usage.sketches import RELATIVE_ACCURACY
from functions.shared import aws
from infra.local.accesslog import AccessLogEmitter
from infra.local.gateway import ApiGateway, HttpRequest
from infra.local.provision import _table_request
from infra.model import AccessLog, Api, Auth, Route
from infra.topology import TOPOLOGY

USER = "bench-user"
DAYS = 30
LAST_DAY = date(2026, 11, 30)


def _timed(call: Any) -> float:
    started = time.perf_counter()
    call()
    return (time.perf_counter() - started) * 1000


def request_path(requests: int) -> None:
    print(f"request path: the local gateway, a trivial handler, {requests} requests each way (interleaved)")
    api = Api(name="bench", routes=(Route("GET", "/api/bench/{id}", "fn", Auth.PUBLIC),))

    def invoke(_function: str, _event: Any) -> dict[str, Any]:
        return {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": "{}"}

    request = HttpRequest("GET", "/api/bench/1", [("host", "bench")], [], b"", "127.0.0.1", "bench")
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="usage")
        emitter = AccessLogEmitter(
            AccessLog("bench", "usage"), "usage", "amazon-apigateway-bench", s3, flush_s=0.5
        )
        plain = ApiGateway(api, invoke)
        recorded = ApiGateway(api, invoke, access_log=emitter.emit)
        for _ in range(1000):  # warm up both
            plain.handle(request)
            recorded.handle(request)
        without, with_log = [], []
        for _ in range(requests):
            without.append(_timed(lambda: plain.handle(request)))
            with_log.append(_timed(lambda: recorded.handle(request)))
        emitter.close()
        delivered = emitter.delivered_records
    base50, base99 = percentile(without, 50), percentile(without, 99)
    rec50, rec99 = percentile(with_log, 50), percentile(with_log, 99)
    print(line("handler with the recording, p50", rec50, base50))
    print(line("handler with the recording, p99", rec99, base99))
    print(f"  {'overhead at p99 (goal <= 1 ms)':<44} {rec99 - base99:9.3f} ms")
    print(f"  {'records delivered to S3 (must be all)':<44} {delivered} of {requests + 1000}")


def _records(count: int, rng: random.Random) -> list[AccessRecord]:
    routes = [f"/api/v1/bench/r{i}/{{id}}" for i in range(20)]
    keys = ["k1", "k2", "k3", None]
    first = datetime(LAST_DAY.year, LAST_DAY.month, LAST_DAY.day, tzinfo=UTC) - timedelta(days=DAYS - 1)
    span_ms = DAYS * 86_400_000
    start_ms = int(first.timestamp() * 1000)
    out = []
    for i in range(count):
        roll = rng.random()
        status = 200 if roll < 0.9 else (404 if roll < 0.98 else 503)
        out.append(
            AccessRecord.model_construct(
                request_id=f"r{i}",
                time_ms=start_ms + rng.randrange(span_ms),
                method="GET",
                route=routes[rng.randrange(20)],
                status=status,
                latency_ms=round(rng.lognormvariate(3, 0.8), 3),
                user_id=USER,
                api_key_id=keys[rng.randrange(4)],
            )
        )
    return out


def summary(count: int) -> None:
    print(
        f"usage summary over {count:,} recorded requests ({DAYS} days, 20 routes, 4 keys, 3 status classes)"
    )
    rng = random.Random(11)
    records = _records(count, rng)
    started = time.perf_counter()
    cells = logic.fold(records)
    fold_s = time.perf_counter() - started
    print(f"  {'aggregator fold (records/s)':<44} {count / fold_s:9.0f} /s   ({len(cells)} cells)")
    first, last = LAST_DAY - timedelta(days=DAYS - 1), LAST_DAY

    def from_raw() -> dict[str, float]:
        mine = [r for r in records if r.user_id == USER and first <= r.day <= last]
        latencies = sorted(r.latency_ms for r in mine)
        n = len(latencies)
        return {
            "total": n,
            "success": sum(1 for r in mine if r.status < 400) / n,
            "avg": sum(latencies) / n,
            **{f"p{int(q * 100)}": latencies[math.floor(q * (n - 1))] for q in (0.5, 0.95, 0.99)},
        }

    raw_times = []
    for _ in range(3):
        started = time.perf_counter()
        exact = from_raw()
        raw_times.append((time.perf_counter() - started) * 1000)
    with mock_aws():
        aws.reset_clients()
        boto3.client("dynamodb").create_table(**_table_request(TOPOLOGY.table("analytics"), "analytics"))
        store = DynamoUsageAggregates("analytics")
        _seed(store, cells)
        queries = UsageQueries(store, keys=_AllKeys())
        answers, times = [], []
        for _ in range(20):
            started = time.perf_counter()
            answers.append(queries.summary(USER, first, last))
            times.append((time.perf_counter() - started) * 1000)
        key_times = [_timed(lambda: queries.summary(USER, first, last, api_key_id="k1")) for _ in range(10)]
        endpoint_times = [_timed(lambda: queries.endpoints(USER, first, last))]
        read = list(store.cells(USER, first, last))
        query_times = [_timed(lambda: list(store.cells(USER, first, last))) for _ in range(10)]
    aws.reset_clients()
    # What the summary itself computes once the items are read (merging the sketches, the quantiles),
    # without moto's server-side work, which DynamoDB does not share.
    memory_times = [_timed(lambda: logic.figures((k.status_class, c) for k, c in read)) for _ in range(20)]
    answer = answers[-1]
    raw_median = sorted(raw_times)[1]
    assert answer.total_requests == exact["total"] == count
    print(line("summary from the aggregates, median", percentile(times, 50), raw_median))
    print(line("summary from the aggregates, p99 (goal 100)", percentile(times, 99), raw_median))
    print(
        f"  {'  of which moto answering the Query':<44} {percentile(query_times, 50):9.2f} ms   ({len(read)} items)"
    )
    print(line("summary: merging the read cells, p99", percentile(memory_times, 99), raw_median))
    print(line("one key's summary, median", percentile(key_times, 50), raw_median))
    print(line("per-endpoint answer (full grain), median", percentile(endpoint_times, 50), raw_median))
    print(f"  {'baseline: the same figures from raw records':<44} {raw_median:9.2f} ms")
    print(
        f"percentile error against the exact values from the raw records (stated bound {RELATIVE_ACCURACY:.0%})"
    )
    for name, value in (("p50", answer.p50_ms), ("p95", answer.p95_ms), ("p99", answer.p99_ms)):
        assert value is not None
        error = abs(value - exact[name]) / exact[name]
        verdict = "within" if error <= RELATIVE_ACCURACY else "OUTSIDE"
        print(
            f"  {name:<44} {value:9.3f} ms vs {exact[name]:.3f} ms exact: {error:.3%} ({verdict} the bound)"
        )
    assert answer.success_rate is not None
    print(
        f"  {'success rate, avg (exact from the counters)':<44} {answer.success_rate:.6f} vs {exact['success']:.6f}, "
        f"{answer.avg_ms:.3f} vs {exact['avg']:.3f} ms"
    )


def _seed(store: DynamoUsageAggregates, cells: dict[Any, Any]) -> None:
    """The cells written as the adapter writes them (its own item form), in batches: moto's transactions
    copy every table per call, so seeding thousands of cells through `apply` would take many minutes here
    (DynamoDB's do not; the integration tests apply through transactions)."""
    items = [store._cell_write(k, c, None)["Put"]["Item"] for k, c in cells.items()]
    ddb: Any = boto3.client("dynamodb")
    for offset in range(0, len(items), 25):
        batch = [{"PutRequest": {"Item": item}} for item in items[offset : offset + 25]]
        ddb.batch_write_item(RequestItems={store.table: batch})


class _AllKeys:
    def owns(self, user_id: str, api_key_id: str) -> bool:
        return True


def run(records: int = 1_000_000, requests: int = 20_000) -> None:
    # moto in-process: never a real endpoint or credentials
    for name, value in {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
    }.items():
        os.environ[name] = value
    os.environ.pop("AWS_ENDPOINT_URL", None)
    request_path(requests)
    print()
    summary(records)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=20_000)
    args = parser.parse_args()
    run(args.records, args.requests)


if __name__ == "__main__":
    main()
