"""The transcode use cases, against ports (functions/transcode/ports.py): no boto3 here.

- `transcode`: the whole source in one invocation: probe it and encode the ladder from one decode, read
  from its URL as it downloads,
  master, poster and storyboard, then write them to the media bucket.
- `plan`, `encode_chunk`, `finish`: a long source in chunks (the publish workflow's Map): plan the
  chunks, encode each chunk's video straight to segments, then the audio, the stitched playlists, the
  master and the pictures.

Each invocation asks for the source's URL once; FFmpeg reads it (no copy to local disk first). Failures raise with a reason the publish workflow turns into
the video's `error`; partial outputs are removed by its MarkFailed step.

`attempt` is the publish run that claimed the video: a run whose attempt is no longer the record's
(cancelled, then retried) stops, and checks again right before it writes to the media bucket, so it
does not overwrite the newer run's files (docs/transcode.md, "Retry and cancel").
"""

from __future__ import annotations

import contextlib
import dataclasses
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from functions.shared.observability import count, logger, seconds
from functions.shared.ports import Events
from functions.transcode import chunks
from functions.transcode.encoder import EncodeCancelled
from functions.transcode.ladder import Rendition, ladder
from functions.transcode.live import LivePublisher
from functions.transcode.models import Run
from functions.transcode.playlists import VariantStats, stats_from_segments
from functions.transcode.ports import Engine, MediaStore, RunRecords
from functions.transcode.probe import SourceInfo
from functions.transcode.progress import ChunkShare, ProgressReporter

# The share of progress each phase owns: the encode (whole or chunks) most of it, then the finishing.
ENCODED = 0.88


class TranscodeCancelledError(Exception):
    pass


class SupersededError(Exception):
    """A newer run (the owner cancelled, then retried) owns the video: MarkFailed must touch nothing."""


@dataclass(frozen=True)
class Tunables:
    """From the settings (their defaults are there)."""

    work_dir: str  # local disk for the source and the outputs
    chunk_threshold_s: float  # sources longer than this are encoded in chunks...
    chunk_s: float  # ...of this many seconds
    memory_mb: int = 10240  # the function's memory: GB-seconds per video minute


class TranscodePipeline:
    def __init__(
        self,
        media: MediaStore,
        records: RunRecords,
        events: Events,
        engine: Engine,
        tunables: Tunables,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.media = media
        self.records = records
        self.events = events
        self.engine = engine
        self.tunables = tunables
        self.clock = clock

    # --- the whole source in one invocation --------------------------------------------------------

    def transcode(self, run: Run) -> dict[str, Any]:
        """One pass, streamed both ways: FFmpeg reads the upload from a URL as it downloads, and every
        finished segment is published while the encode goes on (live.LivePublisher), so the video plays
        once every rung's first segment is up; poster and storyboard come from the same decode."""
        started = self.clock()
        reporter = self._reporter(run)
        with self._workspace(run.video_id, "transcode") as work:
            source, out = self.media.source(run.key), work / "out"
            info = self.engine.probe(source.url, source.size)
            renditions = ladder(info)
            reporter.report(0.02)
            publisher = LivePublisher(
                self.media,
                out,
                work / "live",
                renditions,
                info.fps,
                where=lambda: _prefix_to_write(reporter, run),
                on_playable=reporter.playable,
                codecs=self.engine.segment_codecs,
            ).start()
            try:
                with _stopped_as_such(reporter, run.video_id):
                    stats = self.engine.encode_ladder(
                        source.url,
                        out,
                        info,
                        renditions,
                        on_progress=lambda f: reporter.report(0.02 + (ENCODED - 0.02) * f),
                        should_stop=lambda: publisher.failed() or reporter.should_stop(),
                    )
            finally:
                publisher.stop()  # raises what made publishing fail (a cancel seen there included)
            encoded = self.clock()
            reporter.report(0.92)
            media_prefix = _prefix_to_write(reporter, run)
            publisher.finish(media_prefix, [p for p in out.rglob("*") if p.is_file() and p.suffix != ".ts"])
        logger.info(
            "transcoded",
            extra={
                "video_id": run.video_id,
                "objects": len(publisher.sent),
                "rungs": len(renditions),
                "duration_s": info.duration_s,
                "after_encode_s": round(self.clock() - encoded, 3),
            },
        )
        _cost_metrics(self.clock() - started, info.duration_s, self.tunables.memory_mb)
        return _made(media_prefix, info, stats)

    # --- long sources, in chunks (the publish workflow's Map) -----------------------------------------

    def plan(self, key: str, video_id: str) -> dict[str, Any]:
        """Probe, and decide: one invocation, or chunks in parallel (their plan rides in the workflow
        state)."""
        source = self.media.source(key)  # probed where it is: no download of the whole file
        info = self.engine.probe(source.url, source.size)
        if info.duration_s <= self.tunables.chunk_threshold_s:
            return {"chunked": False}
        return {
            "chunked": True,
            "info": dataclasses.asdict(info),
            "renditions": [dataclasses.asdict(r) for r in ladder(info)],
            "chunks": [dataclasses.asdict(c) for c in chunks.plan(info.duration_s, self.tunables.chunk_s)],
        }

    def encode_chunk(self, run: Run, plan: dict[str, Any], item: dict[str, Any]) -> dict[str, Any]:
        """One chunk's video, all rungs, straight to segments in the media bucket, under the prefix the
        video's visibility allows when it uploads them (returned: Finish gathers every chunk under one).

        Progress: the chunks run in parallel, so each adds its own share of the encode's progress (its
        part of the timeline) as it goes; the stored sum only rises, and is ENCODED when every chunk is
        done.
        """
        started = self.clock()
        info, renditions = _planned(plan)
        chunk = chunks.Chunk(**item)
        reporter = self._reporter(run)
        share = ChunkShare(
            reporter, chunk.start_s, chunk.duration_s, info.duration_s, round(ENCODED * 100), clock=self.clock
        )
        with self._workspace(run.video_id, f"chunk{chunk.index}") as work:
            # FFmpeg seeks in the URL: it reads the index, then only this chunk's byte range
            source, out = self.media.source(run.key).url, work / "out"
            with _stopped_as_such(reporter, run.video_id):
                codecs = self.engine.encode_chunk(
                    source, out, info, renditions, chunk, on_progress=share, should_stop=reporter.should_stop
                )
            written = _prefix_to_write(reporter, run)
            self.media.put_tree(out, written)
            share.done()
        _cost_metrics(self.clock() - started, chunk.duration_s, self.tunables.memory_mb)
        return {"index": chunk.index, "codecs": codecs, "media_prefix": written}

    def finish(self, run: Run, plan: dict[str, Any], results: list[dict[str, Any]]) -> dict[str, Any]:
        """The audio (one pass, if the source has any), the stitched playlists, master, poster and
        storyboard, written under the prefix the video's visibility allows when they are written. Chunks
        that went under the other prefix (the visibility changed while they ran) are gathered there
        first, so the playlists and every segment they name are under one prefix."""
        info, renditions = _planned(plan)
        reporter = self._reporter(run)
        # A superseded run must not stitch (and then delete) the chunk playlists the newer run wrote.
        _stop_if_superseded(reporter, run.video_id)
        plan_chunks = [chunks.Chunk(**c) for c in plan["chunks"]]
        # where each chunk wrote (a result from before chunks said so: the claim's prefix)
        written = {c.index: run.media_prefix for c in plan_chunks} | {
            r["index"]: str(r.get("media_prefix") or run.media_prefix) for r in results
        }
        sizes = {k: size for prefix in set(written.values()) for k, size in self.media.sizes(prefix).items()}
        first = min(results, key=lambda r: r["index"])
        with self._workspace(run.video_id, "finish") as work:
            source, out = self.media.source(run.key).url, work / "out"  # read as it downloads
            audio = None
            if info.has_audio:  # a silent source has no audio rendition, as in the whole-file path
                with _stopped_as_such(reporter, run.video_id):
                    audio = self.engine.encode_audio(
                        source,
                        out,
                        info.duration_s,
                        on_progress=lambda f: reporter.report(ENCODED + 0.04 * f),
                        should_stop=reporter.should_stop,
                    )
            stats = []
            segments_at: list[str] = []  # every chunk segment, under the prefix its chunk wrote it to
            for r in renditions:
                texts, measured = [], []
                for c in plan_chunks:
                    at = f"{written[c.index]}{r.name}/"
                    texts.append(self.media.read_text(at + c.playlist))
                    for duration, uri in chunks.join_playlists(texts[-1:])[1]:
                        measured.append((duration, sizes[at + uri]))
                        segments_at.append(at + uri)
                (out / r.name).mkdir(parents=True, exist_ok=True)
                (out / r.name / "index.m3u8").write_text(chunks.join_playlists(texts)[0])
                stats.append(stats_from_segments(r, measured, first["codecs"][r.name]))
            chunks.write_master_with_audio(out, stats, audio, info.fps)
            self.engine.make_pictures(source, info, out)
            reporter.report(0.95)
            media_prefix = _prefix_to_write(reporter, run)
            moved = [key for key in segments_at if not key.startswith(media_prefix)]
            # server-side copies, before the playlists that name them
            self.media.copy([(key, media_prefix + "/".join(key.rsplit("/", 2)[-2:])) for key in moved])
            self.media.put_tree(out, media_prefix)
            _stop_if_superseded(reporter, run.video_id)  # the chunk playlists may be a newer run's by now
            leftovers = [f"{written[c.index]}{r.name}/{c.playlist}" for r in renditions for c in plan_chunks]
            self.media.delete([*leftovers, *moved])
        seconds("SourceSeconds", info.duration_s)  # the chunks' encode time is spread over many sandboxes
        made = _made(media_prefix, info, stats, audio.codecs if audio else None)
        return {**made, "chunks": len(plan_chunks)}

    # --- helpers -----------------------------------------------------------------------------------

    def _reporter(self, run: Run) -> ProgressReporter:
        return ProgressReporter(self.records, self.events, run.video_id, run.attempt, clock=self.clock)

    @contextlib.contextmanager
    def _workspace(self, video_id: str, what: str) -> Iterator[Path]:
        """A fresh directory on local disk for this invocation, removed whatever happens."""
        work = Path(tempfile.mkdtemp(prefix=f"{what}-{video_id}-", dir=self.tunables.work_dir))
        try:
            yield work
        finally:
            shutil.rmtree(work, ignore_errors=True)


def _cost_metrics(seconds_spent: float, video_s: float, memory_mb: int) -> None:
    """What a capacity plan and the bill follow: seconds of work (and GB-seconds at the function's memory)
    per minute of video. The deploy helper alarms on TranscodeSecondsPerVideoMinute."""
    seconds("TranscodeSeconds", seconds_spent)
    seconds("SourceSeconds", video_s)
    if video_s > 0:
        per_minute = seconds_spent / (video_s / 60)
        seconds("TranscodeSecondsPerVideoMinute", per_minute)
        count("TranscodeGBSecondsPerVideoMinute", per_minute * memory_mb / 1024)


def _planned(plan: dict[str, Any]) -> tuple[SourceInfo, list[Rendition]]:
    return SourceInfo(**plan["info"]), [Rendition(**r) for r in plan["renditions"]]


def _stopped(reporter: ProgressReporter, video_id: str) -> Exception:
    # The error's name reaches MarkFailed: a superseded run must leave the record and outputs alone.
    return SupersededError(video_id) if reporter.superseded else TranscodeCancelledError(video_id)


@contextlib.contextmanager
def _stopped_as_such(reporter: ProgressReporter, video_id: str) -> Iterator[None]:
    try:
        yield
    except EncodeCancelled as exc:
        raise _stopped(reporter, video_id) from exc


def _stop_if_superseded(reporter: ProgressReporter, video_id: str) -> None:
    """Before anything is written to or removed from the media bucket: a cancelled or superseded run
    must not touch the prefix the newer run writes to."""
    if reporter.should_stop():
        raise _stopped(reporter, video_id)


def _prefix_to_write(reporter: ProgressReporter, run: Run) -> str:
    """Right before writing to the media bucket: stop if this run is cancelled or superseded, and write
    to the claim's public prefix only if the video is still public now (one consistent read answers
    both). A video made private during its transcode is written where the CDN asks for a signature;
    MarkReady then finds the prefix differs from its visibility and the move puts it right if it changes
    again. Without `private_prefix` (an execution started before it was passed), the claim's prefix."""
    _stop_if_superseded(reporter, run.video_id)
    if run.private_prefix is None or run.media_prefix == run.private_prefix or reporter.public:
        return run.media_prefix
    return run.private_prefix


def _made(
    media_prefix: str, info: SourceInfo, stats: list[VariantStats], audio_codecs: str | None = None
) -> dict[str, Any]:
    """What MarkReady stores: the source's shape and each rendition as the master playlist lists it.
    `audio_codecs`: a separate audio rendition's (chunked path); muxed audio is in the segment's own."""
    return {
        "media_prefix": media_prefix,
        "duration_s": round(info.duration_s, 3),
        "width": info.width,
        "height": info.height,
        "renditions": [
            {
                "name": st.rendition.name,
                "width": st.rendition.width,
                "height": st.rendition.height,
                "bandwidth": st.peak_bps,
                "average_bandwidth": st.average_bps,
                "codecs": f"{st.codecs},{audio_codecs}" if audio_codecs else st.codecs,
            }
            for st in stats
        ],
    }
