"""Viewer analytics on the fakes: who may send a beacon, what a view is, exact numbers, duplicates and
redelivery, order-free folding, replay (docs/viewer-analytics.md)."""

from __future__ import annotations

import dataclasses
import json
import random
from typing import Any

import pytest
from ddsketch import DDSketch
from pydantic import ValidationError

from functions.analytics.viewing import logic, sketch
from functions.analytics.viewing.logic import AnalyticsReader, BeaconService, Projector, replay
from functions.analytics.viewing.models import MAX_SESSION_BEACONS, Beacon
from functions.analytics.viewing.ports import ViewEvent
from functions.shared.errors import ConflictError, NotFoundError, ValidationFailedError
from functions.shared.principal import Caller
from tests.fakes.analytics_viewing import FakeTokens, InMemoryEvents, InMemoryReadModels, InMemoryVideos


def canonical(models: InMemoryReadModels) -> dict[Any, str]:
    """The records as the table stores them: maps in key order (dict insertion order is not data)."""
    return {k: json.dumps(dataclasses.asdict(r), sort_keys=True) for k, r in models.records.items()}


OWNER = Caller("owner", frozenset({"videos:read", "analytics:read"}), "jwt")
OTHER = Caller("other", frozenset({"videos:read", "analytics:read"}), "jwt")


class World:
    def __init__(self) -> None:
        self.videos = InMemoryVideos()
        self.events = InMemoryEvents()
        self.tokens = FakeTokens()
        self.models = InMemoryReadModels()
        self.beacons = BeaconService(self.videos, self.events, self.tokens, clock=self._clock)
        self.reader = AnalyticsReader(self.videos, self.models)
        self.ticks = 0
        self.videos.add("vpriv", "owner")
        self.videos.add("vpub", "owner", public=True)
        self.tokens.valid["tok-priv"] = "vpriv"

    def _clock(self) -> str:
        self.ticks += 1
        return f"2026-11-30T12:00:{self.ticks:02d}.000Z"

    def send(self, video: str, caller: Caller | None = OWNER, token: str | None = None, **fields: Any) -> Any:
        body = {"session_id": "session-1", "watched_s": 10, "rendition": "720p", **fields}
        return self.beacons.record(video, Beacon(**body), caller, token)

    def project(self) -> None:
        Projector(self.models).project(list(self.events.all_events()))


@pytest.fixture
def world() -> World:
    return World()


# --- who may send a beacon ---------------------------------------------------------------------------------


def test_the_owner_anyone_on_a_public_video_and_a_token_holder_may_report(world: World) -> None:
    assert not world.send("vpriv", OWNER).duplicate
    assert not world.send("vpub", OTHER).duplicate
    assert not world.send("vpub", None, viewer_id="viewer-anon-1").duplicate
    assert not world.send("vpriv", None, token="tok-priv", viewer_id="viewer-anon-1").duplicate
    assert not world.send("vpriv", OTHER, token="tok-priv").duplicate  # a shared playback URL plays
    assert len(world.events.events) == 5


@pytest.mark.parametrize(
    ("video", "caller", "token"),
    [
        ("vpriv", OTHER, None),  # someone else's private video
        ("vpriv", None, None),  # anonymous, no token
        ("vpriv", None, "forged"),  # a token that opens nothing
        ("vpub", None, "tok-priv"),  # irrelevant: a public video needs none, so check another video's token:
        ("nope", OWNER, None),  # no such video
    ],
)
def test_a_video_the_caller_may_not_watch_is_404_and_nothing_is_stored(
    world: World, video: str, caller: Caller | None, token: str | None
) -> None:
    if video == "vpub":  # a token for vpriv does not open another private video
        world.videos.add("vother", "owner")
        video = "vother"
    with pytest.raises(NotFoundError):
        world.send(video, caller, token)
    assert world.events.events == {}


def test_a_video_not_ready_is_409_and_an_unknown_rendition_422(world: World) -> None:
    world.videos.add("vwait", "owner", plays=False)
    with pytest.raises(ConflictError):
        world.send("vwait")
    with pytest.raises(ValidationFailedError):
        world.send("vpriv", rendition="1080p")  # the video has 720p and 360p only
    assert world.events.events == {}


def test_a_session_past_its_beacon_cap_is_409_and_stores_nothing_more(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A session's read model is one item: an anonymous caller must not grow it past DynamoDB's limit."""
    monkeypatch.setattr(logic, "MAX_SESSION_BEACONS", 3)
    for watched in (1, 2, 3):
        assert not world.send("vpub", None, watched_s=watched).duplicate
    with pytest.raises(ConflictError, match="new session"):
        world.send("vpub", None, watched_s=4)
    assert world.send("vpub", None, watched_s=2).duplicate  # a repeat is still just a repeat
    assert not world.send("vpub", None, session_id="session-2", watched_s=4).duplicate
    assert len(world.events.events) == 4
    world.project()
    assert world.reader.video("vpub", OWNER).views == 2


@pytest.mark.parametrize(
    "bad",
    [
        {"watched_s": -1},
        {"watched_s": 86_401},
        {"watched_s": float("nan")},
        {"rendition": "hd"},
        {"session_id": "short"},
        {"startup_ms": -5},
        {"error": "x" * 65},
        {"extra": "field"},
        {"session_id": "s" * 5000},
    ],
)
def test_absurd_or_unknown_fields_are_refused_by_the_model(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        Beacon(**{"session_id": "session-1", "watched_s": 10, "rendition": "720p", **bad})


def test_the_same_beacon_twice_is_one_event(world: World) -> None:
    first = world.send("vpriv", watched_s=12.5)
    again = world.send("vpriv", watched_s=12.5)
    assert again.event_id == first.event_id
    assert again.duplicate
    assert len(world.events.events) == 1


# --- what the projection makes of them ----------------------------------------------------------------------


def test_numbers_are_exact_over_sessions_viewers_and_renditions(world: World) -> None:
    # Session A (the owner): 360p to 10 s, then 720p to 30 s; startup 800 ms; stalled 1 s in all.
    world.send("vpub", OWNER, session_id="session-A", watched_s=4, rendition="360p", startup_ms=800)
    world.send("vpub", OWNER, session_id="session-A", watched_s=10, rendition="360p", rebuffer_ms=500)
    world.send("vpub", OWNER, session_id="session-A", watched_s=30, rendition="720p", rebuffer_ms=1000)
    world.send("vpub", OWNER, session_id="session-A", watched_s=30, rendition="720p", rebuffer_ms=1000)  # dup
    # Session B (anonymous viewer X): 720p to 20 s, startup 1200 ms, then an error.
    world.send("vpub", None, session_id="session-B", viewer_id="viewer-XXXX", watched_s=20, startup_ms=1200)
    world.send("vpub", None, session_id="session-B", viewer_id="viewer-XXXX", watched_s=20, error="MEDIA_ERR")
    # Session C: viewer X again (a second view, same unique viewer).
    world.send("vpub", None, session_id="session-C", viewer_id="viewer-XXXX", watched_s=5, startup_ms=400)
    world.project()

    numbers = world.reader.video("vpub", OWNER)
    assert numbers.views == 3
    assert numbers.unique_viewers == 2
    assert numbers.watch_time_s == 55.0
    assert numbers.failures == 1
    assert numbers.rebuffer_ratio == round(1.0 / 56.0, 4)
    assert [(r.rendition, r.watch_time_s, r.share) for r in numbers.renditions] == [
        ("720p", 45.0, round(45 / 55, 4)),
        ("360p", 10.0, round(10 / 55, 4)),
    ]
    assert numbers.startup.sessions == 3
    # DDSketch's quantile is the value at rank floor(q * (n - 1)): of 400, 800, 1200 both are 800 (±1 %).
    assert numbers.startup.p50_ms == pytest.approx(800, rel=0.01)
    assert numbers.startup.p95_ms == pytest.approx(800, rel=0.01)

    overview = world.reader.overview(OWNER)
    assert (overview.views, overview.unique_viewers, overview.videos_watched) == (3, 2, 1)
    assert overview.watch_time_s == 55.0


def test_a_second_video_adds_to_the_owners_totals_and_viewers_count_once_per_owner(world: World) -> None:
    world.send("vpub", OTHER, session_id="session-1", watched_s=10)
    world.send("vpriv", OWNER, session_id="session-2", watched_s=20)
    world.send("vpriv", OTHER, token="tok-priv", session_id="session-3", watched_s=5)
    world.project()
    overview = world.reader.overview(OWNER)
    assert (overview.views, overview.unique_viewers, overview.videos_watched) == (3, 2, 2)
    assert overview.watch_time_s == 35.0
    assert world.reader.video("vpriv", OWNER).unique_viewers == 2


def test_only_the_owner_reads_a_videos_analytics(world: World) -> None:
    world.send("vpub", OTHER)
    world.project()
    with pytest.raises(NotFoundError):
        world.reader.video("vpub", OTHER)
    with pytest.raises(NotFoundError):
        world.reader.video("nope", OWNER)
    assert world.reader.overview(OTHER).views == 0  # their own totals: none of their videos was watched
    assert world.reader.video("vpriv", OWNER).views == 0  # the owner's unwatched video: zeros, not 404


def test_a_redelivered_batch_changes_nothing(world: World) -> None:
    for second in (5, 10, 15):
        world.send("vpub", OTHER, watched_s=second)
    world.project()
    before = canonical(world.models)
    world.project()  # the stream delivers the same batch again
    assert canonical(world.models) == before
    assert world.reader.video("vpub", OWNER).views == 1


def test_a_crash_in_the_middle_of_a_batch_then_redelivery_counts_each_session_once(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(logic, "MAX_ITEMS_PER_COMMIT", 10)  # two sessions per transaction here
    for n in range(6):
        world.send("vpub", None, session_id=f"session-{n}", watched_s=n + 1)
    world.models.fail_after = 1  # two sessions are committed, then the sandbox dies
    with pytest.raises(RuntimeError):
        world.project()
    assert world.reader.video("vpub", OWNER).views == 2  # whole sessions only
    world.models.fail_after = None
    world.project()  # redelivery
    numbers = world.reader.video("vpub", OWNER)
    assert (numbers.views, numbers.unique_viewers, numbers.watch_time_s) == (6, 6, 21.0)
    assert max(world.models.commit_sizes) <= 10


def _events(seed: int, count: int) -> list[ViewEvent]:
    rng = random.Random(seed)
    events = []
    for n in range(count):
        session = rng.randrange(40)
        watched = rng.randrange(0, 600_000)
        events.append(
            ViewEvent(
                event_id=f"e{n:06d}",
                video_id=f"v{session % 5}",
                owner_id=f"o{session % 5 % 2}",  # a video has one owner
                session_id=f"session-{session}",
                viewer=f"a:viewer-{session % 7}",
                watched_ms=watched,
                rendition=rng.choice(["360p", "720p", "1080p"]),
                startup_ms=rng.choice([None, rng.randrange(0, 5000)]),
                rebuffer_ms=rng.choice([None, rng.randrange(0, 20_000)]),
                error=rng.choice([None] * 9 + ["E"]),
                at=f"2026-11-30T12:{n // 60 % 60:02d}:{n % 60:02d}.000Z",
            )
        )
    return events


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_any_order_any_batching_with_duplicates_gives_what_a_replay_gives(seed: int) -> None:
    events = _events(seed, 400)
    rng = random.Random(seed)
    delivered = events + rng.sample(events, 100)  # redeliveries
    rng.shuffle(delivered)
    models = InMemoryReadModels()
    projector = Projector(models)
    while delivered:
        size = rng.randrange(1, 60)
        projector.project(delivered[:size])
        delivered = delivered[size:]
    assert max(models.commit_sizes) <= logic.MAX_ITEMS_PER_COMMIT
    store = InMemoryEvents()
    for event in events:
        store.append(event, MAX_SESSION_BEACONS)
    rebuilt = InMemoryReadModels()
    outcome = replay(store, rebuilt)
    assert outcome["events"] == 400
    assert canonical(models) == canonical(rebuilt)


def test_replay_replaces_what_was_there(world: World) -> None:
    world.send("vpub", OTHER, watched_s=3)
    world.project()
    projected = canonical(world.models)
    world.models.records[("video", "stale")] = world.models.records[("video", "vpub")]
    replay(world.events, world.models)
    assert canonical(world.models) == projected


def test_startup_percentiles_are_those_of_a_ddsketch_and_within_its_bound() -> None:
    rng = random.Random(7)
    values = [rng.randrange(50, 30_000) for _ in range(5000)] + [0] * 20
    buckets: dict[str, int] = {}
    direct = DDSketch(sketch.RELATIVE_ACCURACY)
    for value in values:
        buckets[sketch.bucket(value)] = buckets.get(sketch.bucket(value), 0) + 1
        direct.add(value)
    ordered = sorted(values)
    for q in (0.5, 0.95):
        ours = sketch.quantile(buckets, q)
        assert ours == pytest.approx(direct.get_quantile_value(q), abs=0.1)
        exact = ordered[int(q * (len(values) - 1))]
        assert abs(ours - exact) <= sketch.RELATIVE_ACCURACY * exact + 0.1  # type: ignore[operator]
