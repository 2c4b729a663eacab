"""Viewer analytics: the beacon use case (write side), the projection (events -> read models), replay, and
the read use cases. Depends on ports.py only.

A view is one playback session: (video, session id, viewer). Its numbers are a function of the SET of its
distinct beacons (`summarize`), never of their order, so a duplicated, repeated, late or redelivered beacon
changes nothing it should not, and a replay in any order gets the same read models:
- watched = the largest cumulative `watched_s`; rebuffering = the largest cumulative `rebuffer_ms`;
- startup = the `startup_ms` of the earliest beacon (by position) that carries one;
- failed = some beacon carried an `error`;
- watch time per rendition: the beacons sorted by position, each increase credited to the rendition the
  later beacon names.
Totals (per video, per owner) are sums over sessions, plus counts of distinct sessions, viewers and videos,
so they too are order-free. A batch is folded session by session: each session's change and the totals it
moves are written in one transaction, conditional on what was read, so a crash between sessions leaves
the ones done complete and a redelivery finds their beacons already in and adds nothing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import TypeVar, cast

from functions.analytics.viewing import sketch
from functions.analytics.viewing.models import (
    MAX_SESSION_BEACONS,
    Beacon,
    BeaconReceipt,
    Overview,
    RenditionShare,
    StartupTimes,
    VideoAnalytics,
    ViewerNumbers,
)
from functions.analytics.viewing.ports import (
    EventStore,
    OwnerViewer,
    PlaybackTokens,
    Point,
    ReadModels,
    Record,
    Session,
    SessionFullError,
    Totals,
    VideoCatalogue,
    ViewerVideo,
    ViewEvent,
    WatchableVideo,
    Write,
    record_key,
)
from functions.shared.clock import now_iso
from functions.shared.errors import ConflictError, NotFoundError, ValidationFailedError
from functions.shared.principal import Caller

Key = tuple[str, ...]
_R = TypeVar("_R", Session, Totals, ViewerVideo, OwnerViewer)

# --- the write side: a beacon becomes an event ------------------------------------------------------------


def viewer_of(caller: Caller | None, beacon: Beacon) -> str:
    """Who watched: the signed-in user, else the anonymous player's viewer id, else the session alone."""
    if caller is not None:
        return f"u:{caller.user_id}"
    return f"a:{beacon.viewer_id}" if beacon.viewer_id else f"s:{beacon.session_id}"


def event_id(video_id: str, viewer: str, beacon: Beacon) -> str:
    """Deterministic from the beacon's content: the same beacon sent twice is the same event."""
    content = [
        video_id,
        beacon.session_id,
        viewer,
        round(beacon.watched_s * 1000),
        beacon.rendition,
        beacon.startup_ms,
        beacon.rebuffer_ms,
        beacon.error,
    ]
    return hashlib.sha256(json.dumps(content, separators=(",", ":")).encode()).hexdigest()[:32]


def may_watch(video: WatchableVideo, caller: Caller | None, token_opens: Callable[[], bool]) -> bool:
    """The videos domain's rule (functions/videos/logic.py `_visible_to`: the owner, or anyone for a public
    video not being deleted), plus whoever holds a playback token for it: the URL alone plays."""
    if caller is not None and caller.user_id == video.owner_id:
        return True
    return video.public or token_opens()


@dataclass
class BeaconService:
    videos: VideoCatalogue
    events: EventStore
    tokens: PlaybackTokens
    clock: Callable[[], str] = field(default=now_iso)

    def record(
        self, video_id: str, beacon: Beacon, caller: Caller | None, token: str | None
    ) -> BeaconReceipt:
        video = self.videos.get(video_id)

        def token_opens() -> bool:
            return token is not None and self.tokens.opens(token, video_id)

        if video is None or not may_watch(video, caller, token_opens):
            raise NotFoundError(f"No video {video_id}.")
        if not video.plays:
            raise ConflictError("The video cannot play yet; it has no views until it does.")
        if video.renditions and beacon.rendition not in video.renditions:
            raise ValidationFailedError(
                f"The video has no rendition {beacon.rendition!r}.",
                details=[{"field": "rendition", "allowed": sorted(video.renditions)}],
            )
        viewer = viewer_of(caller, beacon)
        event = ViewEvent(
            event_id=event_id(video_id, viewer, beacon),
            video_id=video_id,
            owner_id=video.owner_id,
            session_id=beacon.session_id,
            viewer=viewer,
            watched_ms=round(beacon.watched_s * 1000),
            rendition=beacon.rendition,
            startup_ms=beacon.startup_ms,
            rebuffer_ms=beacon.rebuffer_ms,
            error=beacon.error,
            at=self.clock(),
        )
        try:
            stored = self.events.append(event, MAX_SESSION_BEACONS)
        except SessionFullError:
            raise ConflictError(
                f"This playback session has reached its {MAX_SESSION_BEACONS} beacons; a new session "
                "(a new session_id) may report."
            ) from None
        return BeaconReceipt(event_id=event.event_id, duplicate=not stored)


# --- the projection: events -> read models ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Summary:
    """A session's contribution to the totals: a function of its set of beacons."""

    watched_ms: int
    rebuffer_ms: int
    startup_bucket: str | None
    failed: bool
    renditions: dict[str, int]
    last_at: str


def summarize(points: dict[str, Point]) -> Summary:
    ordered = sorted(points.items(), key=lambda item: (item[1].watched_ms, item[0]))
    renditions: dict[str, int] = {}
    position = 0
    startup: int | None = None
    for _, point in ordered:
        if point.watched_ms > position:
            renditions[point.rendition] = renditions.get(point.rendition, 0) + point.watched_ms - position
            position = point.watched_ms
        if startup is None and point.startup_ms is not None:
            startup = point.startup_ms
    return Summary(
        watched_ms=position,
        rebuffer_ms=max((p.rebuffer_ms or 0 for p in points.values()), default=0),
        startup_bucket=None if startup is None else sketch.bucket(startup),
        failed=any(p.error for p in points.values()),
        renditions=renditions,
        last_at=max(p.at for p in points.values()),
    )


def _add(counts: dict[str, int], key: str, delta: int) -> None:
    value = counts.get(key, 0) + delta
    if value:
        counts[key] = value
    else:
        counts.pop(key, None)


def _move(totals: Totals, summary: Summary, sign: int) -> None:
    totals.watch_ms += sign * summary.watched_ms
    totals.rebuffer_ms += sign * summary.rebuffer_ms
    totals.failures += sign * int(summary.failed)
    if summary.startup_bucket is not None:
        _add(totals.startup, summary.startup_bucket, sign)
    for rendition, ms in summary.renditions.items():
        _add(totals.renditions, rendition, sign * ms)


def session_key(video_id: str, session_id: str, viewer: str) -> Key:
    return ("session", video_id, session_id, viewer)


def keys_of(event: ViewEvent) -> list[Key]:
    """Every record one event may change."""
    return [
        session_key(event.video_id, event.session_id, event.viewer),
        ("video", event.video_id),
        ("owner", event.owner_id),
        ("viewer_video", event.viewer, event.video_id),
        ("owner_viewer", event.owner_id, event.viewer),
    ]


@dataclass
class Projection:
    """Read-model records in memory and the fold that changes them; what was loaded is remembered so every
    write can be conditional on it."""

    records: dict[Key, Record] = field(default_factory=dict)

    def _get(self, key: Key, make: Callable[[], _R]) -> _R:
        found = self.records.get(key)
        if found is None:
            found = self.records[key] = make()
        return cast(_R, found)

    def fold(self, events: Iterable[ViewEvent]) -> int:
        """Apply events (any order, duplicates welcome); how many sessions changed."""
        return sum(self.fold_session(group) for group in by_session(events))

    def fold_session(self, events: list[ViewEvent]) -> bool:
        """Apply one session's events (`by_session`); False when they were all in already."""
        first = events[0]
        owner = first.owner_id
        session = self._get(
            session_key(first.video_id, first.session_id, first.viewer),
            lambda: Session(first.video_id, first.session_id, first.viewer, owner),
        )
        before = summarize(session.points) if session.points else None
        new = 0
        for e in events:
            if e.event_id not in session.points:
                session.points[e.event_id] = Point(
                    e.watched_ms, e.rendition, e.startup_ms, e.rebuffer_ms, e.error, e.at
                )
                new += 1
        if not new:
            return False
        session.events += new
        after = summarize(session.points)
        self._move_totals(first, before, after, new)
        return True

    def _move_totals(self, first: ViewEvent, before: Summary | None, after: Summary, new: int) -> None:
        owner_id = first.owner_id
        video = self._get(("video", first.video_id), lambda: Totals("video", first.video_id, owner_id))
        owner = self._get(("owner", owner_id), lambda: Totals("owner", owner_id, owner_id))
        viewer_video = self._get(
            ("viewer_video", first.viewer, first.video_id),
            lambda: ViewerVideo(first.viewer, first.video_id, owner_id),
        )
        owner_viewer = self._get(
            ("owner_viewer", owner_id, first.viewer), lambda: OwnerViewer(owner_id, first.viewer)
        )
        for totals in (video, owner):
            if before is not None:
                _move(totals, before, -1)
            _move(totals, after, +1)
            totals.events += new
        if before is None:  # a new view
            video.views += 1
            owner.views += 1
            owner.videos += int(video.views == 1)
            video.viewers += int(viewer_video.sessions == 0)
            owner.viewers += int(owner_viewer.sessions == 0)
            viewer_video.sessions += 1
            owner_viewer.sessions += 1
        viewer_video.watch_ms += after.watched_ms - (before.watched_ms if before else 0)
        viewer_video.last_at = max(viewer_video.last_at, after.last_at)
        viewer_video.events += new
        owner_viewer.events += new


def by_session(events: Iterable[ViewEvent]) -> list[list[ViewEvent]]:
    groups: dict[Key, list[ViewEvent]] = {}
    for event in events:
        groups.setdefault(session_key(event.video_id, event.session_id, event.viewer), []).append(event)
    return list(groups.values())


def _copy(record: Record) -> Record:
    if isinstance(record, Session):
        return replace(record, points={k: replace(p) for k, p in record.points.items()})
    if isinstance(record, Totals):
        return replace(record, startup=dict(record.startup), renditions=dict(record.renditions))
    return replace(record)


# One transaction holds at most 100 items and 4 MB; a session's item is about 100 bytes per beacon.
MAX_ITEMS_PER_COMMIT = 100
MAX_BYTES_PER_COMMIT = 3_000_000
POINT_BYTES = 100


@dataclass
class _Pending:
    """Sessions folded since the last commit and every record they moved: one transaction."""

    keys: dict[Key, None] = field(default_factory=dict)
    bytes: int = 0

    def fits(self, keys: list[Key], size: int) -> bool:
        new = sum(1 for k in keys if k not in self.keys)
        return len(self.keys) + new <= MAX_ITEMS_PER_COMMIT and self.bytes + size <= MAX_BYTES_PER_COMMIT


@dataclass
class Projector:
    """The one writer of the read models (the projector function runs with reserved concurrency 1)."""

    models: ReadModels

    def project(self, events: list[ViewEvent]) -> int:
        """Fold a stream batch in; returns how many sessions changed. Raises ConcurrentWriteError (the batch
        is then delivered again, and what was committed is found already in).

        Sessions are folded one by one and committed in groups: each transaction holds some sessions and
        every record they moved, as they stand after exactly those sessions (a session that would not fit
        is folded after the commit), so a crash between two transactions leaves whole sessions only."""
        loaded = self.models.get_many({key for event in events for key in keys_of(event)})
        projection = Projection(records={k: _copy(r) for k, r in loaded.items()})
        expected: dict[Key, int | None] = {k: r.events for k, r in loaded.items()}
        pending = _Pending()
        changed = 0
        for group in by_session(events):
            keys = keys_of(group[0])
            session = projection.records.get(keys[0])
            size = POINT_BYTES * (len(group) + (len(session.points) if isinstance(session, Session) else 0))
            if not pending.fits(keys, size):
                self._commit(projection, pending, expected)
                pending = _Pending()
            if projection.fold_session(group):  # False: every beacon of it was in already (a redelivery)
                pending.keys.update(dict.fromkeys(keys))
                pending.bytes += size
                changed += 1
        self._commit(projection, pending, expected)
        return changed

    def _commit(self, projection: Projection, pending: _Pending, expected: dict[Key, int | None]) -> None:
        if not pending.keys:
            return
        writes = [Write(_copy(projection.records[k]), expected.get(k)) for k in pending.keys]
        self.models.commit(writes)
        expected.update({record_key(w.record): w.record.events for w in writes})


def replay(events: EventStore, models: ReadModels) -> dict[str, int]:
    """Rebuild every read model from the event store: fold all events into an empty projection, then
    replace the stored records with it."""
    projection = Projection()
    count = 0

    def counted() -> Iterable[ViewEvent]:
        nonlocal count
        for event in events.all_events():
            count += 1
            yield event

    projection.fold(counted())
    models.replace_all(projection.records.values())
    return {"events": count, "records": len(projection.records)}


# --- the read side ----------------------------------------------------------------------------------------


def _numbers(totals: Totals | None) -> dict[str, object]:
    t = totals or Totals("video", "", "")
    watched = t.watch_ms
    stalled = t.rebuffer_ms
    shares = sorted(t.renditions.items(), key=lambda item: (-item[1], item[0]))
    return {
        "views": t.views,
        "unique_viewers": t.viewers,
        "watch_time_s": watched / 1000,
        "startup": StartupTimes(
            sessions=sum(t.startup.values()),
            p50_ms=sketch.quantile(t.startup, 0.5),
            p95_ms=sketch.quantile(t.startup, 0.95),
        ),
        "rebuffer_ratio": round(stalled / (watched + stalled), 4) if watched + stalled else 0.0,
        "failures": t.failures,
        "renditions": [
            RenditionShare(
                rendition=name, watch_time_s=ms / 1000, share=round(ms / watched, 4) if watched else 0.0
            )
            for name, ms in shares
        ],
    }


@dataclass
class AnalyticsReader:
    videos: VideoCatalogue
    models: ReadModels

    def video(self, video_id: str, caller: Caller) -> VideoAnalytics:
        """Only the owner reads a video's analytics; anyone else gets the answer for no such video."""
        video = self.videos.get(video_id)
        if video is None or video.owner_id != caller.user_id:
            raise NotFoundError(f"No video {video_id}.")
        totals = self.models.get(("video", video_id))
        assert totals is None or isinstance(totals, Totals)
        return VideoAnalytics(video_id=video_id, **_numbers(totals))

    def overview(self, caller: Caller) -> Overview:
        totals = self.models.get(("owner", caller.user_id))
        assert totals is None or isinstance(totals, Totals)
        return Overview(videos_watched=totals.videos if totals else 0, **_numbers(totals))


__all__ = [
    "AnalyticsReader",
    "BeaconService",
    "Projection",
    "Projector",
    "ViewerNumbers",
    "replay",
    "summarize",
]
