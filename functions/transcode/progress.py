"""Progress of a running encode: stored on the video at most every few seconds, announced as
video.progress, and the place the encoder learns it must stop.

A run must stop when the video is no longer `processing` (cancelled or deleted) or when its attempt is
no longer the record's `attempt` (the video was cancelled, retried and claimed by a newer run: checking
the status alone would let both runs write hls/{id}/). See functions/videos/logic.py `Publishing`. The record
is read and written through the `RunRecords` port (its adapter: the videos repository).

Progress only ever goes up: the whole-file encode SETs a higher value; the chunks of a long source,
running in parallel, each ADD their share of the timeline as they encode it (ChunkShare).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from functions.shared.domain_events import VideoProgress
from functions.shared.ports import Events
from functions.transcode.ports import RunRecords

STORE_EVERY_S = 3.0
CHECK_EVERY_S = 2.0
MAX_PERCENT = 99  # 100 is for ready, which the record step sets


@dataclass
class ProgressReporter:
    records: RunRecords
    events: Events
    video_id: str
    attempt: str | None = None  # None: an older caller that does not know its attempt (status only)
    clock: Callable[[], float] = time.monotonic
    _last_store: float = field(default=-1e9)
    _last_percent: int = field(default=-1)
    stopped: bool = False
    superseded: bool = False  # stopped because a newer attempt owns the video (not merely cancelled)
    # the video was public at the last check (should_stop): may this run write to public/ now?
    public: bool = False

    def report(self, fraction: float) -> None:
        """The whole encode's progress, 0..1: stored (and announced) when it rose, at most every few s."""
        percent = max(0, min(MAX_PERCENT, int(fraction * 100)))
        now = self.clock()
        if percent <= self._last_percent or now - self._last_store < STORE_EVERY_S:
            return
        self._last_store, self._last_percent = now, percent
        # never lower: another writer (a finished chunk) may already have stored more
        if not self.records.raise_progress(self.video_id, percent, self.attempt):
            self._refused()
            return
        self.events.publish(VideoProgress(video_id=self.video_id, progress=percent))

    def playable(self, prefix: str) -> bool:
        """Every rung's first segment, its growing playlist and a master are under `prefix`: record that
        the video plays already, and announce it (video.progress with `playable`)."""
        if not self.records.mark_playable(self.video_id, prefix, self.attempt):
            self._refused()
            return False
        self.events.publish(
            VideoProgress(video_id=self.video_id, progress=max(0, self._last_percent), playable=True)
        )
        return True

    def add(self, points: int, ceiling: int = MAX_PERCENT) -> int | None:
        """Add `points` to the stored progress (parallel chunks each add their share), never above
        `ceiling`. Returns the new progress, or None if nothing was added."""
        if points <= 0:
            return None
        # a chunk retried after it had added some of its share must not push progress past the ceiling:
        # it then stays there until the next step sets more
        percent = self.records.add_progress(self.video_id, points, ceiling, self.attempt)
        if percent is None:
            self._refused()
            return None
        self.events.publish(VideoProgress(video_id=self.video_id, progress=percent))
        return percent

    def _refused(self) -> None:
        """A conditional write failed: stopped (cancelled, deleted, superseded), or progress was simply
        not higher. One consistent read tells which."""
        self.should_stop(force=True)

    def should_stop(self, force: bool = False) -> bool:
        if self.stopped and not force:
            return True
        check = self.records.check(self.video_id)
        self.public = check is not None and check.public
        current = check.attempt if check else None
        # Only a newer claim writes another attempt: seen once, that is final.
        self.superseded = self.superseded or bool(self.attempt and current and current != self.attempt)
        cancelled = check is None or not check.processing
        self.stopped = self.stopped or cancelled or self.superseded
        return self.stopped


@dataclass
class ChunkShare:
    """One chunk's part of a chunked encode's progress. The timeline [0, total_s] maps to
    [0, span] percent; a chunk covering [start_s, end_s] owns points(end) - points(start) of them, so the
    shares of all chunks add up to exactly `span` (no rounding lost or doubled at the boundaries), and
    each chunk adds what it has encoded as it goes: the stored sum rises however the chunks interleave.
    """

    reporter: ProgressReporter
    start_s: float
    duration_s: float
    total_s: float
    span: int
    clock: Callable[[], float] = time.monotonic
    _added: int = 0
    _last_store: float = field(default=-1e9)

    def _points(self, at_s: float) -> int:
        at_s = min(max(at_s, 0.0), self.total_s)
        return math.floor(self.span * at_s / self.total_s + 1e-9) if self.total_s > 0 else 0

    def __call__(self, fraction: float) -> None:
        """FFmpeg's progress through this chunk, 0..1 (an encoder `on_progress`): throttled."""
        now = self.clock()
        if now - self._last_store >= STORE_EVERY_S:
            self._last_store = now
            self._store(fraction)

    def done(self) -> None:
        """The chunk is encoded: add what is left of its share, whatever the throttle says."""
        self._store(1.0)

    def _store(self, fraction: float) -> None:
        fraction = min(max(fraction, 0.0), 1.0)
        reached = self._points(self.start_s + fraction * self.duration_s)
        owed = reached - self._points(self.start_s) - self._added
        if owed > 0 and self.reporter.add(owed, ceiling=self.span) is not None:
            self._added += owed
