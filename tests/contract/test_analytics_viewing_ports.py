"""The viewer-analytics ports' contract: ONE set of assertions, run against each in-memory fake
(tests/fakes/analytics_viewing.py) and its real adapter on moto (functions/analytics/viewing/dal.py)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from functions.analytics.viewing.dal import EventTable, ReadModelTable, TokenKeys, VideoCatalogue
from functions.analytics.viewing.models import MAX_SESSION_BEACONS
from functions.analytics.viewing.ports import (
    ConcurrentWriteError,
    EventStore,
    OwnerViewer,
    PlaybackTokens,
    Point,
    ReadModels,
    Session,
    SessionFullError,
    Totals,
    ViewerVideo,
    ViewEvent,
    Write,
    record_key,
)
from functions.analytics.viewing.ports import (
    VideoCatalogue as VideoCataloguePort,
)
from functions.shared import aws
from functions.shared.media_token import new_media_keys, sign
from functions.videos.dal import VideoRepository
from functions.videos.models import Status, UploadRecord, VideoRecord, Visibility
from infra.local.provision import _table_request
from infra.topology import TOPOLOGY
from tests.fakes.analytics_viewing import FakeTokens, InMemoryEvents, InMemoryReadModels, InMemoryVideos

KINDS = ["fake", "adapter"]
CAP = MAX_SESSION_BEACONS


def event(n: int, **fields: Any) -> ViewEvent:
    values: dict[str, Any] = {
        "event_id": f"e{n}",
        "video_id": "v1",
        "owner_id": "o1",
        "session_id": "session-1",
        "viewer": "a:viewer-1",
        "watched_ms": 1000 * n,
        "rendition": "720p",
        "startup_ms": None,
        "rebuffer_ms": 5,
        "error": None,
        "at": "2026-11-30T12:00:00.000Z",
    }
    return ViewEvent(**{**values, **fields})


@pytest.fixture(params=KINDS)
def events(request: pytest.FixtureRequest) -> Iterator[EventStore]:
    if request.param == "fake":
        yield InMemoryEvents()
        return
    with mock_aws():
        aws.reset_clients()
        boto3.client("dynamodb").create_table(**_table_request(TOPOLOGY.table("view_events"), "view_events"))
        yield EventTable("view_events")
    aws.reset_clients()


@pytest.fixture(params=KINDS)
def models(request: pytest.FixtureRequest) -> Iterator[ReadModels]:
    if request.param == "fake":
        yield InMemoryReadModels()
        return
    with mock_aws():
        aws.reset_clients()
        boto3.client("dynamodb").create_table(**_table_request(TOPOLOGY.table("analytics"), "analytics"))
        yield ReadModelTable("analytics")
    aws.reset_clients()


def test_an_event_id_is_stored_once_and_the_first_copy_wins(events: EventStore) -> None:
    assert events.append(event(1), CAP)
    assert not events.append(event(1, at="2026-12-01T00:00:00.000Z"), CAP)
    assert events.append(event(2, startup_ms=900, error="MEDIA_ERR"), CAP)
    stored = sorted(events.all_events(), key=lambda e: e.event_id)
    assert stored == [event(1), event(2, startup_ms=900, error="MEDIA_ERR")]


def test_a_session_takes_events_up_to_its_cap_and_a_repeat_is_still_a_repeat(events: EventStore) -> None:
    assert events.append(event(1), session_cap=2)
    assert events.append(event(2), session_cap=2)
    with pytest.raises(SessionFullError):
        events.append(event(3), session_cap=2)
    assert not events.append(event(2), session_cap=2)
    assert events.append(event(3, session_id="session-2"), session_cap=2)
    assert events.append(event(4, viewer="a:viewer-2"), session_cap=2)  # another viewer's session
    assert sorted(e.event_id for e in events.all_events()) == ["e1", "e2", "e3", "e4"]


def records() -> list[Any]:
    session = Session(
        "v1", "session-1", "a:viewer-1", "o1", {"e1": Point(1000, "720p", 800, None, None, "t1")}, 1
    )
    totals = Totals(
        "video",
        "v1",
        "o1",
        views=1,
        viewers=1,
        watch_ms=1000,
        startup={"z": 1, "684": 2},
        renditions={"720p": 1000},
        events=1,
    )
    owner = Totals("owner", "o1", "o1", views=1, viewers=1, videos=1, events=1)
    return [
        session,
        totals,
        owner,
        ViewerVideo("a:viewer-1", "v1", "o1", 1, 1000, "t1", 1),
        OwnerViewer("o1", "a:viewer-1", 1, 1),
    ]


def test_records_round_trip_and_writes_are_conditional_on_what_was_read(models: ReadModels) -> None:
    first = records()
    models.commit([Write(r, None) for r in first])
    for record in first:
        assert models.get(record_key(record)) == record
    assert models.get_many([record_key(r) for r in first] + [("video", "nope")]) == {
        record_key(r): r for r in first
    }
    totals = first[1]
    with pytest.raises(ConcurrentWriteError):  # it exists: a write that expected none fails
        models.commit([Write(totals, None)])
    with pytest.raises(ConcurrentWriteError):  # read at another `events`: fails, and nothing of it lands
        models.commit([Write(Totals("owner", "o2", "o2", events=1), None), Write(totals, 7)])
    assert models.get(("owner", "o2")) is None
    totals.views, totals.events = 2, 2
    models.commit([Write(totals, 1)])
    assert models.get(("video", "v1")) == totals


def test_replace_all_leaves_exactly_the_new_records(models: ReadModels) -> None:
    first = records()
    models.commit([Write(r, None) for r in first])
    kept = first[:2]
    models.replace_all(kept)
    assert sorted(record_key(r) for r in models.all_records()) == sorted(record_key(r) for r in kept)


# --- the videos domain's data access and the token key set -------------------------------------------------


def _video(video_id: str, visibility: Visibility, status: Status, playable: bool = False) -> VideoRecord:
    return VideoRecord(
        id=video_id,
        owner_id="o1",
        title="t",
        visibility=visibility,
        status=status,
        media_prefix=f"hls/{video_id}/" if status is Status.READY else None,
        playable=playable,
        playable_prefix=f"hls/{video_id}/live/" if playable else None,
        renditions=[{"name": "720p"}, {"name": "360p"}],
        upload=UploadRecord(
            key="k", filename="a.mp4", content_type="video/mp4", size_bytes=1, method="PUT", expires_at=1
        ),
        created_at="2026-01-01T00:00:00.000Z",
        updated_at="2026-01-01T00:00:00.000Z",
    )


@pytest.fixture(params=KINDS)
def catalogue(request: pytest.FixtureRequest) -> Iterator[VideoCataloguePort]:
    if request.param == "fake":
        fake = InMemoryVideos()
        fake.add("vpub", "o1", public=True)
        fake.add("vpriv", "o1")
        fake.add("vwait", "o1", plays=False)
        fake.add("vlive", "o1")
        yield fake
        return
    with mock_aws():
        aws.reset_clients()
        boto3.client("dynamodb").create_table(**_table_request(TOPOLOGY.table("videos"), "videos"))
        repo = VideoRepository("videos")
        repo.create(_video("vpub", Visibility.PUBLIC, Status.READY))
        repo.create(_video("vpriv", Visibility.PRIVATE, Status.READY))
        repo.create(_video("vwait", Visibility.PRIVATE, Status.PROCESSING))
        repo.create(_video("vlive", Visibility.PRIVATE, Status.PROCESSING, playable=True))
        yield VideoCatalogue("videos")
    aws.reset_clients()


def test_the_catalogue_says_who_owns_a_video_and_whether_anyone_may_watch_it(
    catalogue: VideoCataloguePort,
) -> None:
    public, private, waiting = catalogue.get("vpub"), catalogue.get("vpriv"), catalogue.get("vwait")
    encoding = catalogue.get("vlive")  # still processing, but its streamed encode already plays
    assert public is not None
    assert private is not None
    assert waiting is not None
    assert encoding is not None
    assert (public.owner_id, public.public, public.plays) == ("o1", True, True)
    assert (private.public, private.plays, waiting.plays, encoding.plays) == (False, True, False, True)
    assert public.renditions == frozenset({"720p", "360p"})
    assert catalogue.get("nope") is None


@pytest.fixture(params=KINDS)
def tokens(request: pytest.FixtureRequest) -> Iterator[tuple[PlaybackTokens, str]]:
    if request.param == "fake":
        yield FakeTokens({"tok": "v1"}), "tok"
        return
    with mock_aws():
        aws.reset_clients()
        keys = new_media_keys()
        boto3.client("secretsmanager").create_secret(Name="media", SecretString=keys.to_json())
        yield TokenKeys("media"), sign(keys, "v1", int(time.time()) + 600)
    aws.reset_clients()


def test_a_token_opens_its_own_video_only(tokens: tuple[PlaybackTokens, str]) -> None:
    port, token = tokens
    assert port.opens(token, "v1")
    assert not port.opens(token, "v2")
    assert not port.opens(token + "x", "v1")
    assert not port.opens("../../etc", "v1")


def test_a_token_that_carries_its_own_video_path_opens_no_other_video(
    tokens: tuple[PlaybackTokens, str],
) -> None:
    """The header is the token alone: "<token for v1>/hls/v1" must not be read as a path into v1's scope
    that happens to end at v2's playlist."""
    port, token = tokens
    assert not port.opens(f"{token}/hls/v1", "v2")
    assert not port.opens(f"{token}/hls/v1/", "v2")


def test_an_expired_token_opens_nothing() -> None:
    with mock_aws():
        aws.reset_clients()
        keys = new_media_keys()
        boto3.client("secretsmanager").create_secret(Name="media", SecretString=keys.to_json())
        assert not TokenKeys("media").opens(sign(keys, "v1", int(time.time()) - 1), "v1")
    aws.reset_clients()
