"""In-memory fakes of the viewer-analytics ports (functions/analytics/viewing/ports.py), held to the
adapters' behaviour by tests/contract/test_analytics_viewing_ports.py."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from functions.analytics.viewing.ports import (
    ConcurrentWriteError,
    Record,
    SessionFullError,
    ViewEvent,
    WatchableVideo,
    Write,
    record_key,
)

Key = tuple[str, ...]


@dataclass
class InMemoryEvents:
    """The append-only event store: the first copy of an event id wins."""

    events: dict[str, ViewEvent] = field(default_factory=dict)

    def append(self, event: ViewEvent, session_cap: int) -> bool:
        if event.event_id in self.events:
            return False
        session = (event.video_id, event.viewer, event.session_id)
        held = sum(1 for e in self.events.values() if (e.video_id, e.viewer, e.session_id) == session)
        if held >= session_cap:
            raise SessionFullError(event.session_id)
        self.events[event.event_id] = event
        return True

    def all_events(self) -> Iterator[ViewEvent]:
        return iter(list(self.events.values()))


@dataclass
class InMemoryReadModels:
    """Records by key, copied in and out (as the table serialises them); `fail_after` commits, one fails
    (a projector that crashes in the middle of a batch)."""

    records: dict[Key, Record] = field(default_factory=dict)
    commits: int = 0
    fail_after: int | None = None
    commit_sizes: list[int] = field(default_factory=list)

    def get(self, key: Key) -> Record | None:
        found = self.records.get(key)
        return copy.deepcopy(found) if found is not None else None

    def get_many(self, keys: Iterable[Key]) -> dict[Key, Record]:
        return {k: copy.deepcopy(self.records[k]) for k in keys if k in self.records}

    def commit(self, writes: list[Write]) -> None:
        self.commit_sizes.append(len(writes))
        if self.fail_after is not None and self.commits >= self.fail_after:
            raise RuntimeError("the projector's sandbox died")
        for write in writes:
            stored = self.records.get(record_key(write.record))
            held = None if stored is None else stored.events
            if held != write.expected_events or (stored is not None and write.expected_events is None):
                raise ConcurrentWriteError("a read model changed since it was read")
        for write in writes:
            self.records[record_key(write.record)] = copy.deepcopy(write.record)
        self.commits += 1

    def all_records(self) -> Iterator[Record]:
        return iter([copy.deepcopy(r) for r in self.records.values()])

    def replace_all(self, records: Iterable[Record]) -> None:
        self.records = {record_key(r): copy.deepcopy(r) for r in records}


@dataclass
class InMemoryVideos:
    videos: dict[str, WatchableVideo] = field(default_factory=dict)

    def add(
        self,
        video_id: str,
        owner: str,
        public: bool = False,
        plays: bool = True,
        renditions: Iterable[str] = ("720p", "360p"),
    ) -> WatchableVideo:
        video = WatchableVideo(video_id, owner, public, plays, frozenset(renditions))
        self.videos[video_id] = video
        return video

    def get(self, video_id: str) -> WatchableVideo | None:
        return self.videos.get(video_id)


@dataclass
class FakeTokens:
    """Valid tokens and the video each opens."""

    valid: dict[str, str] = field(default_factory=dict)

    def opens(self, token: str, video_id: str) -> bool:
        return self.valid.get(token) == video_id
