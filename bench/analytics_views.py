"""Viewer analytics' figures (issue 11), in one run: projector throughput and replay time for 1,000,000
view events.

What is measured, exactly:
- **Fold, in-process** (`--events`, 1,000,000): the projection's fold (functions/analytics/viewing/logic.py
  `Projection.fold`, the code both the projector and a replay run) over generated events, no I/O; events/s.
  Baseline in the same run: a bare pass over the same events that only keeps each session's largest
  position in a dict (the least any fold must do); the ratio is what the full fold costs over touching
  each event once.
- **Projector through DynamoDB on moto** (`--moto-events`, a small sample): the real projector
  (`Projector` + `ReadModelTable`: BatchGetItem, TransactWriteItems of up to 100 items) in stream batches of
  100, against moto in-process (`mock_aws`); events/s, and the DynamoDB requests per event. moto's
  TransactWriteItems deep-copies the whole table once per item of the transaction (for its rollback), so
  its cost grows with the table and the moto rate is NOT what DynamoDB would do; 1,000,000 events through
  moto are out of reach here. The requests per event, with DynamoDB's typical latencies (stated, not
  measured), give a modelled rate for AWS.
- **Replay through DynamoDB on moto** (`--replay-events`): scan the event table, fold, put every record
  (BatchWriteItem: no transactions, so moto's cost stays linear); extrapolated linearly to 1,000,000. On the
  projector's sample its read models are compared item for item with the projector's.
- **Read**: a video's numbers from its read model (one GetItem) against computing them from its raw events
  (Query the event store + fold) in the same run: the reason for the read models.

    python -m bench.analytics_views [--events 1000000] [--moto-events 500] [--replay-events 5000]
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import time
from collections.abc import Iterator
from typing import Any

import boto3
from moto import mock_aws

from bench.stats import line
from functions.analytics.viewing.dal import EventTable, ReadModelTable
from functions.analytics.viewing.logic import Projection, Projector, replay
from functions.analytics.viewing.models import MAX_SESSION_BEACONS
from functions.analytics.viewing.ports import ViewEvent, Write
from functions.shared import aws
from infra.local.provision import _table_request
from infra.topology import TOPOLOGY

BEACONS_PER_SESSION = 10
CONCURRENT_SESSIONS = 1000
RENDITIONS = ("1080p", "720p", "480p", "360p")


def generate(count: int, videos: int = 200, owners: int = 20) -> Iterator[ViewEvent]:
    """`count` beacons of count/10 sessions, interleaved as a stream sees them: windows of 1,000 sessions
    playing at once, each sending a beacon every 10 s (startup on the first, rebuffering cumulative, a
    rendition switch half way, an error in 2 % of sessions)."""
    sessions = max(1, count // BEACONS_PER_SESSION)
    made = 0
    for window in range(0, sessions, CONCURRENT_SESSIONS):
        members = range(window, min(sessions, window + CONCURRENT_SESSIONS))
        for beacon in range(BEACONS_PER_SESSION):
            for s in members:
                if made == count:
                    return
                video = s % videos
                yield ViewEvent(
                    event_id=f"{s:08x}{beacon:02x}" + "0" * 22,
                    video_id=f"video{video:04d}",
                    owner_id=f"owner{video % owners:03d}",
                    session_id=f"session-{s:08d}",
                    viewer=f"a:viewer-{s % (sessions // 3 + 1):08d}",
                    watched_ms=(beacon + 1) * 10_000,
                    rendition=RENDITIONS[(s + beacon // 5) % len(RENDITIONS)],
                    startup_ms=300 + (s * 37) % 4000 if beacon == 0 else None,
                    rebuffer_ms=(s % 7) * 100 * beacon,
                    error="MEDIA_ERR" if s % 50 == 0 and beacon == BEACONS_PER_SESSION - 1 else None,
                    at=f"2026-11-30T12:{beacon:02d}:00.000Z",
                )
                made += 1


class Timer:
    """Wall time and this process's CPU time: the machine is shared, so wall time includes waiting for a
    core; CPU time is what the code itself cost (moto runs in this process too)."""

    def __enter__(self) -> Timer:
        self.wall0, self.cpu0 = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall, self.cpu = time.perf_counter() - self.wall0, time.process_time() - self.cpu0


def bare_pass(events: list[ViewEvent]) -> Timer:
    with Timer() as timer:
        _bare(events)
    return timer


def _bare(events: list[ViewEvent]) -> None:
    furthest: dict[tuple[str, str, str], int] = {}
    for e in events:
        k = (e.video_id, e.session_id, e.viewer)
        if e.watched_ms > furthest.get(k, 0):
            furthest[k] = e.watched_ms


def in_process(count: int) -> None:
    events = list(generate(count))
    gc.collect()
    bare = bare_pass(events)
    projection = Projection()
    with Timer() as fold:
        sessions = projection.fold(events)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    n = len(events)
    print(f"Fold in-process: {n:,} events, {sessions:,} sessions, {len(projection.records):,} records")
    print(line("fold, CPU time (replay's and projector's logic)", fold.cpu, bare.cpu, "s"))
    print(line("fold, wall time", fold.wall, bare.wall, "s"))
    print(
        f"  {'fold throughput (CPU)':<44} {n / fold.cpu:12,.0f} events/s   (bare pass {n / bare.cpu:,.0f}/s)"
    )
    print(f"  {'fold throughput (wall)':<44} {n / fold.wall:12,.0f} events/s")
    print(f"  {'peak RSS of this process':<44} {rss_mb:9.0f} MB")


def _tables() -> None:
    for table in ("view_events", "analytics"):
        boto3.client("dynamodb").create_table(**_table_request(TOPOLOGY.table(table), table))


class CountingReadModels(ReadModelTable):
    """The adapter, counting the DynamoDB requests the projector makes."""

    def __init__(self, table_name: str) -> None:
        super().__init__(table_name)
        self.gets = self.transactions = self.written = 0

    def get_many(self, record_ids: Any) -> Any:
        wanted = list(record_ids)
        self.gets += -(-len(wanted) // 100)
        return super().get_many(wanted)

    def commit(self, writes: list[Write]) -> None:
        self.transactions += 1
        self.written += len(writes)
        super().commit(writes)


# DynamoDB's typical single-region latencies, for the model only (not measured here).
TRANSACT_MS, BATCH_GET_MS = 15.0, 8.0


def _moto_env() -> None:
    os.environ.pop("AWS_ENDPOINT_URL", None)  # moto in this process, never a real endpoint
    os.environ.update(
        AWS_DEFAULT_REGION="us-east-1", AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench"
    )


def through_moto(count: int, full: int) -> None:
    events = list(generate(count, videos=20, owners=4))
    _moto_env()
    with mock_aws():
        aws.reset_clients()
        _tables()
        store, models = EventTable("view_events"), CountingReadModels("analytics")
        with Timer() as append:
            for e in events:
                store.append(e, MAX_SESSION_BEACONS)
        projector = Projector(models)
        with Timer() as project:
            for offset in range(0, len(events), 100):
                projector.project(events[offset : offset + 100])
        projected = models.items()
        outcome = replay(store, models)
        identical = models.items() == projected

        video = events[0].video_id
        per_video = sum(1 for e in events if e.video_id == video)
        start = time.perf_counter()
        for _ in range(20):
            models.get(("video", video))
        read_model = (time.perf_counter() - start) / 20
        start = time.perf_counter()
        for _ in range(3):
            _from_raw(video)
        raw = (time.perf_counter() - start) / 3
    aws.reset_clients()
    batches = -(-count // 100)
    modelled_s_per_batch = (models.transactions * TRANSACT_MS + models.gets * BATCH_GET_MS) / batches / 1000
    print(f"Projector through DynamoDB on moto (in-process mock_aws): {count:,} events, batches of 100")
    print(f"  {'beacon appends (conditional PutItem)':<44} {count / append.wall:12,.0f} events/s (wall)")
    print(
        f"  {'projector on moto (wall / CPU)':<44} {count / project.wall:12,.0f} / {count / project.cpu:,.0f} events/s"
        "  (moto copies the table per transaction item)"
    )
    print(
        f"  {'DynamoDB requests per batch of 100':<44} {models.transactions / batches:9.2f} TransactWriteItems "
        f"({models.written / max(1, models.transactions):.0f} items each), {models.gets / batches:.2f} BatchGetItem"
    )
    print(
        f"  {'modelled on DynamoDB':<44} {100 / modelled_s_per_batch:12,.0f} events/s per shard "
        f"(at {TRANSACT_MS:.0f} ms a transaction, {BATCH_GET_MS:.0f} ms a batch get) -> {full:,} in "
        f"~{full / (100 / modelled_s_per_batch) / 60:,.0f} min"
    )
    print(f"  {'replay of the same events = projector':<44} {identical} ({outcome['records']:,} records)")
    print(line(f"video numbers from the read model ({per_video:,} events)", read_model * 1000, raw * 1000))
    print(f"  {'…from its raw events (Query + fold)':<44} {raw * 1000:9.2f} ms")


def replay_through_moto(count: int, full: int) -> None:
    events = generate(count, videos=200, owners=20)
    _moto_env()
    with mock_aws():
        aws.reset_clients()
        _tables()
        store, models = EventTable("view_events"), ReadModelTable("analytics")
        for e in events:
            store.append(e, MAX_SESSION_BEACONS)
        with Timer() as replayed:
            outcome = replay(store, models)
    aws.reset_clients()
    print(f"Replay through DynamoDB on moto: {count:,} events (scan, fold, BatchWriteItem)")
    for clock, seconds in (("wall", replayed.wall), ("CPU", replayed.cpu)):
        rate = count / seconds
        print(
            f"  {'replay, ' + clock:<44} {rate:12,.0f} events/s ({seconds:.1f} s, {outcome['records']:,} records)"
            f" -> {full:,} events in ~{full / rate / 60:,.1f} min (linear)"
        )


def _from_raw(video_id: str) -> None:
    pages = (
        aws.dynamodb()
        .get_paginator("query")
        .paginate(
            TableName="view_events",
            KeyConditionExpression="pk = :p",
            ExpressionAttributeValues={":p": {"S": f"VIDEO#{video_id}"}},
        )
    )
    from functions.analytics.viewing.dal import event_from_image

    events = [e for page in pages for item in page["Items"] if (e := event_from_image(item)) is not None]
    Projection().fold(events)


def run(events: int = 1_000_000, moto_events: int = 500, replay_events: int = 5_000) -> None:
    print("Viewer analytics (bench.analytics_views)")
    in_process(events)
    gc.collect()
    through_moto(moto_events, events)
    replay_through_moto(replay_events, events)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--moto-events", type=int, default=500)
    parser.add_argument("--replay-events", type=int, default=5_000)
    args = parser.parse_args()
    run(args.events, args.moto_events, args.replay_events)


if __name__ == "__main__":
    main()
