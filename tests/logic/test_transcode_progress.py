"""Progress of an encode (functions/transcode/progress.py) on fakes of its ports: stored at most every
few seconds, announced as video.progress, never lowered, added up exactly by parallel chunks, and the
place a cancelled or superseded run learns to stop. The conditions the writes carry are the records
port's: tests/contract/test_transcode_ports.py holds the fake to the videos repository's."""

from __future__ import annotations

import random

import pytest

from functions.transcode import chunks
from functions.transcode.progress import STORE_EVERY_S, ChunkShare, ProgressReporter
from tests.fakes.shared import RecordingEvents
from tests.fakes.transcode import FakeRunRecords


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class World:
    """The video v1 being processed by run-1, and what was announced."""

    def __init__(self) -> None:
        self.records = FakeRunRecords()
        self.events = RecordingEvents()
        self.set_record(status="processing", progress=0, attempt="run-1")

    def set_record(self, status: str, progress: int, attempt: str | None = None) -> None:
        self.records.seed("v1", status=status, attempt=attempt, progress=progress)

    def stored(self) -> int:
        progress = self.records.progress("v1")
        assert progress is not None
        return progress

    def announced(self) -> list[int]:
        return [e["progress"] for e in self.events.of_type("video.progress")]

    def reporter(self, clock: Clock, attempt: str | None = "run-1") -> ProgressReporter:
        return ProgressReporter(self.records, self.events, "v1", attempt, clock=clock)


@pytest.fixture
def world() -> World:
    return World()


def test_progress_is_stored_at_most_every_few_seconds_and_announced(world: World) -> None:
    clock = Clock()
    progress = world.reporter(clock)
    progress.report(0.10)
    assert world.stored() == 10
    clock.now += STORE_EVERY_S - 0.5
    progress.report(0.25)  # too soon after the last write: neither stored nor announced
    assert world.stored() == 10
    clock.now += 0.5
    progress.report(0.30)
    assert world.stored() == 30
    clock.now += 10
    progress.report(0.305)  # the same percent: nothing new to say
    assert world.events.published == [
        ("video.progress", {"video_id": "v1", "progress": 10, "playable": False}),
        ("video.progress", {"video_id": "v1", "progress": 30, "playable": False}),
    ]


def test_progress_never_goes_down_and_stops_short_of_ready(world: World) -> None:
    clock = Clock()
    world.set_record(status="processing", progress=50, attempt="run-1")  # e.g. chunks already added this much
    progress = world.reporter(clock)
    progress.report(0.40)
    assert world.stored() == 50
    assert not progress.stopped  # a lower value is not a cancel
    clock.now += STORE_EVERY_S
    progress.report(1.0)
    assert world.stored() == 99  # 100 is for ready, which only MarkReady sets
    assert world.announced() == [99]


def test_a_cancelled_run_stops_and_writes_nothing(world: World) -> None:
    progress = world.reporter(Clock())
    assert not progress.should_stop()
    world.set_record(status="failed", progress=20, attempt="run-1")  # the owner cancelled
    progress.report(0.5)
    assert progress.stopped
    assert progress.should_stop()
    assert not progress.superseded  # cancelled, not replaced by a newer run
    assert world.stored() == 20
    assert world.announced() == []


def test_a_superseded_run_stops_while_the_current_one_goes_on(world: World) -> None:
    # Cancelled, retried and claimed again within the old run's check interval: the status is
    # `processing` again, but the attempt is the new run's.
    world.set_record(status="processing", progress=5, attempt="run-2")
    old, new = world.reporter(Clock(), "run-1"), world.reporter(Clock(), "run-2")
    assert old.should_stop()
    assert old.superseded
    old.report(0.6)
    assert world.stored() == 5
    assert not new.should_stop()
    new.report(0.2)
    assert world.stored() == 20
    assert old.add(10) is None
    assert world.stored() == 20


def test_a_record_without_an_attempt_is_judged_by_status_alone(world: World) -> None:
    world.set_record(status="processing", progress=0)  # written before attempts, or by a full-record write
    progress = world.reporter(Clock(), "run-1")
    assert not progress.should_stop()
    progress.report(0.3)
    assert world.stored() == 30


def test_parallel_chunks_add_up_to_their_span_and_progress_only_rises(world: World) -> None:
    total = 26.0
    plan = chunks.plan(total, chunk_s=10)  # 12 + 12 + 2 s: shares of different sizes
    clock = Clock()
    shares = [
        ChunkShare(world.reporter(clock), c.start_s, c.duration_s, total, 88, clock=clock) for c in plan
    ]
    # FFmpeg's progress of three chunks encoding at once, interleaved in a random order.
    steps = [(i, f / 10) for i in range(len(plan)) for f in range(1, 11)]
    random.Random(5).shuffle(steps)
    steps.sort(key=lambda s: s[1])  # each chunk's own progress still rises
    seen = [world.stored()]
    for i, fraction in steps:
        clock.now += 1.1
        shares[i](fraction)
        seen.append(world.stored())
    for share in shares:
        share.done()
        seen.append(world.stored())
    assert seen == sorted(seen)  # never lower at any moment
    assert seen[-1] == 88  # no point lost or doubled at a chunk boundary
    assert 2 < len({v for v in seen}) < 40  # rose in steps during the encode, throttled
    progress = world.announced()
    assert progress == sorted(progress)
    assert progress[-1] == 88
    # A chunk run again (its Lambda retried) adds its share again: capped, never past the span.
    again = ChunkShare(world.reporter(clock), plan[0].start_s, plan[0].duration_s, total, 88, clock=clock)
    again.done()
    assert world.stored() == 88


def test_once_superseded_always_superseded(world: World) -> None:
    world.set_record(status="processing", progress=5, attempt="run-2")
    old = world.reporter(Clock(), "run-1")
    assert old.should_stop()
    # The API's full-record write (a PATCH) drops the attribute: that does not make run-1 current again.
    world.set_record(status="processing", progress=5)
    assert old.should_stop()
    assert old.superseded
