"""Progress of an encode (functions/transcode/progress.py) against moto: stored at most every few
seconds, announced as video.progress on the bus, never lowered, added up exactly by parallel chunks, and
the place a cancelled or superseded run learns to stop."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from functions.shared import aws
from functions.shared.events import EventPublisher
from functions.transcode import chunks
from functions.transcode.progress import STORE_EVERY_S, ChunkShare, ProgressReporter
from infra.local.provision import _table_request
from infra.topology import TOPOLOGY

KEY = {"pk": {"S": "VIDEO#v1"}, "sk": {"S": "VIDEO"}}


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def queue() -> Iterator[str]:
    """The videos table with a video being processed by run-1, and a queue that receives every event
    published on the bus (as a subscriber to video.progress would)."""
    with mock_aws():
        aws.reset_clients()
        boto3.client("dynamodb").create_table(**_table_request(TOPOLOGY.table("videos"), "videos"))
        set_record(status="processing", progress=0, attempt="run-1")
        events, sqs = boto3.client("events"), boto3.client("sqs")
        events.create_event_bus(Name="bus")
        url = sqs.create_queue(QueueName="seen")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events.put_rule(
            Name="all", EventBusName="bus", EventPattern=json.dumps({"source": ["skyreel.videos"]})
        )
        events.put_targets(Rule="all", EventBusName="bus", Targets=[{"Id": "q", "Arn": arn}])
        yield url
    aws.reset_clients()


def set_record(**values: Any) -> None:
    item = {**KEY}
    for name, value in values.items():
        item[name] = {"N": str(value)} if isinstance(value, int) else {"S": value}
    boto3.client("dynamodb").put_item(TableName="videos", Item=item)


def stored() -> int:
    return int(boto3.client("dynamodb").get_item(TableName="videos", Key=KEY)["Item"]["progress"]["N"])


def announced(queue_url: str) -> list[dict[str, Any]]:
    sqs, seen = boto3.client("sqs"), []
    while messages := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages"):
        for message in messages:
            seen.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return seen


def reporter(clock: Clock, attempt: str | None = "run-1") -> ProgressReporter:
    return ProgressReporter("videos", "v1", EventPublisher("bus", "videos").publish, attempt, clock=clock)


def test_progress_is_stored_at_most_every_few_seconds_and_announced(queue: str) -> None:
    clock = Clock()
    progress = reporter(clock)
    progress.report(0.10)
    assert stored() == 10
    clock.now += STORE_EVERY_S - 0.5
    progress.report(0.25)  # too soon after the last write: neither stored nor announced
    assert stored() == 10
    clock.now += 0.5
    progress.report(0.30)
    assert stored() == 30
    clock.now += 10
    progress.report(0.305)  # the same percent: nothing new to say
    events = announced(queue)
    assert [(e["detail-type"], e["detail"]) for e in events] == [
        ("video.progress", {"video_id": "v1", "progress": 10}),
        ("video.progress", {"video_id": "v1", "progress": 30}),
    ]
    assert {e["source"] for e in events} == {"skyreel.videos"}


def test_progress_never_goes_down_and_stops_short_of_ready(queue: str) -> None:
    clock = Clock()
    set_record(status="processing", progress=50, attempt="run-1")  # e.g. chunks already added this much
    progress = reporter(clock)
    progress.report(0.40)
    assert stored() == 50
    assert not progress.stopped  # a lower value is not a cancel
    clock.now += STORE_EVERY_S
    progress.report(1.0)
    assert stored() == 99  # 100 is for ready, which only MarkReady sets
    assert [e["detail"]["progress"] for e in announced(queue)] == [99]


def test_a_cancelled_run_stops_and_writes_nothing(queue: str) -> None:
    progress = reporter(Clock())
    assert not progress.should_stop()
    set_record(status="failed", progress=20, attempt="run-1")  # the owner cancelled
    progress.report(0.5)
    assert progress.stopped
    assert progress.should_stop()
    assert not progress.superseded  # cancelled, not replaced by a newer run
    assert stored() == 20
    assert announced(queue) == []


def test_a_superseded_run_stops_while_the_current_one_goes_on(queue: str) -> None:
    # Cancelled, retried and claimed again within the old run's check interval: the status is
    # `processing` again, but the attempt is the new run's.
    set_record(status="processing", progress=5, attempt="run-2")
    old, new = reporter(Clock(), "run-1"), reporter(Clock(), "run-2")
    assert old.should_stop()
    assert old.superseded
    old.report(0.6)
    assert stored() == 5
    assert not new.should_stop()
    new.report(0.2)
    assert stored() == 20
    assert old.add(10) is None
    assert stored() == 20


def test_a_record_without_an_attempt_is_judged_by_status_alone(queue: str) -> None:
    set_record(status="processing", progress=0)  # written before attempts, or by a full-record write
    progress = reporter(Clock(), "run-1")
    assert not progress.should_stop()
    progress.report(0.3)
    assert stored() == 30


def test_parallel_chunks_add_up_to_their_span_and_progress_only_rises(queue: str) -> None:
    total = 26.0
    plan = chunks.plan(total, chunk_s=10)  # 12 + 12 + 2 s: shares of different sizes
    clock = Clock()
    shares = [ChunkShare(reporter(clock), c.start_s, c.duration_s, total, 88, clock=clock) for c in plan]
    # FFmpeg's progress of three chunks encoding at once, interleaved in a random order.
    steps = [(i, f / 10) for i in range(len(plan)) for f in range(1, 11)]
    random.Random(5).shuffle(steps)
    steps.sort(key=lambda s: s[1])  # each chunk's own progress still rises
    seen = [stored()]
    for i, fraction in steps:
        clock.now += 1.1
        shares[i](fraction)
        seen.append(stored())
    for share in shares:
        share.done()
        seen.append(stored())
    assert seen == sorted(seen)  # never lower at any moment
    assert seen[-1] == 88  # no point lost or doubled at a chunk boundary
    assert 2 < len({v for v in seen}) < 40  # rose in steps during the encode, throttled
    progress = [e["detail"]["progress"] for e in announced(queue)]
    assert progress == sorted(progress)
    assert progress[-1] == 88
    # A chunk run again (its Lambda retried) adds its share again: capped, never past the span.
    again = ChunkShare(reporter(clock), plan[0].start_s, plan[0].duration_s, total, 88, clock=clock)
    again.done()
    assert stored() == 88


def test_once_superseded_always_superseded(queue: str) -> None:
    set_record(status="processing", progress=5, attempt="run-2")
    old = reporter(Clock(), "run-1")
    assert old.should_stop()
    # The API's full-record write (a PATCH) drops the attribute: that does not make run-1 current again.
    set_record(status="processing", progress=5)
    assert old.should_stop()
    assert old.superseded
