"""What the viewer-analytics logic depends on, as Protocols, and the value types they speak in.

Adapters (boto3): `dal.EventTable` (the event store), `dal.ReadModelTable` (the read models in the
analytics table), `dal.VideoCatalogue` (the videos domain's own data access) and `dal.TokenKeys` (the
playback-token key set). In-memory fakes: tests/fakes/analytics_viewing.py, held to the same contract by
tests/contract/test_analytics_viewing_ports.py.

The read-model records are plain dataclasses (the projection folds a million of them in a benchmark); each
carries `events`, how many distinct beacons it was folded from, which also serves as its optimistic lock:
every write of a record is conditional on the `events` value it was read with.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

# --- events (the write side) -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ViewEvent:
    """One distinct beacon, as stored. `viewer` is `u:<user id>` (signed in), `a:<viewer_id>` (an anonymous
    player's own id) or `s:<session_id>` (an anonymous player that sent none). Times are whole ms."""

    event_id: str
    video_id: str
    owner_id: str
    session_id: str
    viewer: str
    watched_ms: int
    rendition: str
    startup_ms: int | None
    rebuffer_ms: int | None
    error: str | None
    at: str  # when the first copy of this beacon was received (ISO 8601, UTC)


@dataclass(frozen=True, slots=True)
class WatchableVideo:
    """What the beacon needs of a video, read through the videos domain's data access."""

    id: str
    owner_id: str
    public: bool  # public, and not being deleted: anyone may watch it
    plays: bool  # a player can stream it: ready, or playable while it still encodes
    renditions: frozenset[str]  # the names of its HLS renditions ("720p", ...)


class SessionFullError(Exception):
    """The event's session already holds as many distinct beacons as it may."""


class EventStore(Protocol):
    def append(self, event: ViewEvent, session_cap: int) -> bool:
        """Store the event unless one with its id is there; True when it was new. SessionFullError (and
        nothing stored) when it is new and its session holds `session_cap` distinct events already."""
        ...

    def all_events(self) -> Iterator[ViewEvent]:
        """Every stored event (in no particular order): what a replay folds."""
        ...


class VideoCatalogue(Protocol):
    def get(self, video_id: str) -> WatchableVideo | None: ...


class PlaybackTokens(Protocol):
    def opens(self, token: str, video_id: str) -> bool:
        """Is `token` a valid, unexpired playback token for this video's media?"""
        ...


# --- read models (the read side) ----------------------------------------------------------------------


@dataclass(slots=True)
class Point:
    """One beacon of a session, as the session's read model keeps it (keyed by event id)."""

    watched_ms: int
    rendition: str
    startup_ms: int | None
    rebuffer_ms: int | None
    error: str | None
    at: str


@dataclass(slots=True)
class Session:
    """A view: one playback session (video, session id, viewer) and every distinct beacon it sent."""

    video_id: str
    session_id: str
    viewer: str
    owner_id: str
    points: dict[str, Point] = field(default_factory=dict)
    events: int = 0


@dataclass(slots=True)
class Totals:
    """A video's or an owner's numbers. `startup` holds DDSketch bucket counts (functions/analytics/viewing/
    sketch.py), `renditions` watch time per rendition (ms); zero entries are dropped."""

    kind: str  # "video" or "owner"
    id: str
    owner_id: str
    views: int = 0
    viewers: int = 0
    videos: int = 0  # owners only: videos with at least one view
    watch_ms: int = 0
    rebuffer_ms: int = 0
    failures: int = 0
    startup: dict[str, int] = field(default_factory=dict)
    renditions: dict[str, int] = field(default_factory=dict)
    events: int = 0


@dataclass(slots=True)
class ViewerVideo:
    """A viewer's history of one video (also what makes them a unique viewer of it)."""

    viewer: str
    video_id: str
    owner_id: str
    sessions: int = 0
    watch_ms: int = 0
    last_at: str = ""
    events: int = 0


@dataclass(slots=True)
class OwnerViewer:
    """A viewer of any of an owner's videos (what makes them a unique viewer of the owner's)."""

    owner_id: str
    viewer: str
    sessions: int = 0
    events: int = 0


Record = Session | Totals | ViewerVideo | OwnerViewer


def record_key(record: Record) -> tuple[str, ...]:
    """The one identity of a read-model record (the adapter's item key is made from it)."""
    if isinstance(record, Session):
        return ("session", record.video_id, record.session_id, record.viewer)
    if isinstance(record, Totals):
        return (record.kind, record.id)
    if isinstance(record, ViewerVideo):
        return ("viewer_video", record.viewer, record.video_id)
    return ("owner_viewer", record.owner_id, record.viewer)


@dataclass(frozen=True, slots=True)
class Write:
    """A record to store, conditional on it holding `expected_events` (None: it must not exist yet)."""

    record: Record
    expected_events: int | None


class ConcurrentWriteError(Exception):
    """A record changed since it was read: the batch is retried from fresh reads."""


class ReadModels(Protocol):
    def get(self, key: tuple[str, ...]) -> Record | None: ...

    def get_many(self, keys: Iterable[tuple[str, ...]]) -> dict[tuple[str, ...], Record]: ...

    def commit(self, writes: list[Write]) -> None:
        """All of `writes` or none (one transaction); ConcurrentWriteError when a condition fails."""
        ...

    def all_records(self) -> Iterator[Record]:
        """Every viewer-analytics record (replay and its comparison)."""
        ...

    def replace_all(self, records: Iterable[Record]) -> None:
        """Delete every viewer-analytics record, then store these (a replay)."""
        ...
