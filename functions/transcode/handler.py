"""The transcode function (a container image in AWS; the pip-installed FFmpeg locally).

Input {"video_id", "key", "media_prefix", "attempt"}: stream the original to /tmp, probe it, encode the
ladder from one decode, write the master playlist, poster and storyboard, stream them to the media
bucket, and return what was made. Failures raise with a reason the publish workflow turns into the
video's `error`; partial outputs are removed by its MarkFailed step.

`attempt` is the publish run that claimed the video: a run whose attempt is no longer the record's
(cancelled, then retried) stops, and checks again right before it writes to the media bucket, so it
does not overwrite the newer run's files (docs/transcode.md, "Retry and cancel").
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from boto3.s3.transfer import TransferConfig
from pydantic import Field

from functions.shared import aws
from functions.shared.config import EnvironmentModel
from functions.shared.events import EventPublisher
from functions.shared.observability import logger, metrics, seconds
from functions.transcode import chunks
from functions.transcode.encoder import (
    EncodeCancelled,
    LadderJob,
    encode_ladder,
    make_poster,
    make_storyboard,
)
from functions.transcode.ladder import Rendition, ladder
from functions.transcode.outputs import upload_tree
from functions.transcode.playlists import VariantStats, codecs_of, stats_from_segments, write_master
from functions.transcode.probe import SourceInfo, probe
from functions.transcode.progress import ChunkShare, ProgressReporter

# Streamed to disk with a bounded queue: boto3's default download buffers more the larger the file, and
# memory must stay flat whatever the source's size.
DOWNLOAD = TransferConfig(
    multipart_threshold=16 * 2**20,
    multipart_chunksize=8 * 2**20,
    max_concurrency=4,
    max_io_queue=8,
    io_chunksize=256 * 1024,
)


class TranscodeSettings(EnvironmentModel):
    videos_table: str = Field(alias="VIDEOS_TABLE_NAME")
    uploads_bucket: str = Field(alias="UPLOADS_BUCKET_NAME")
    media_bucket: str = Field(alias="MEDIA_BUCKET_NAME")
    event_bus: str = Field(alias="EVENTS_EVENT_BUS_NAME")
    work_dir: str = Field(default=tempfile.gettempdir(), alias="TRANSCODE_WORK_DIR")
    # Sources longer than this are encoded in chunks of CHUNK_S seconds, in parallel (docs/transcode.md).
    chunk_threshold_s: float = Field(default=600, gt=0, alias="CHUNK_THRESHOLD_S")
    chunk_s: float = Field(default=120, gt=0, alias="CHUNK_S")


class TranscodeCancelledError(Exception):
    pass


class SupersededError(Exception):
    """A newer run (the owner cancelled, then retried) owns the video: MarkFailed must touch nothing."""


@functools.cache
def settings() -> TranscodeSettings:
    loaded = TranscodeSettings.from_environment()
    assert isinstance(loaded, TranscodeSettings)
    return loaded


# The share of progress each phase owns: the encode (whole or chunks) most of it, then the finishing.
ENCODED = 0.88


def _reporter(video_id: str, attempt: str | None) -> ProgressReporter:
    s = settings()
    return ProgressReporter(s.videos_table, video_id, EventPublisher(s.event_bus, "videos").publish, attempt)


def _stop_if_superseded(reporter: ProgressReporter, video_id: str) -> None:
    """Before anything is written to or removed from the media bucket: a cancelled or superseded run
    must not touch the prefix the newer run writes to."""
    if reporter.should_stop():
        raise _stopped(reporter, video_id)


def _prefix_to_write(
    reporter: ProgressReporter, video_id: str, media_prefix: str, private_prefix: str | None
) -> str:
    """Right before writing to the media bucket: stop if this run is cancelled or superseded, and write
    to the claim's public prefix only if the video is still public now (one consistent read answers
    both). A video made private during its transcode is written where the CDN asks for a signature;
    MarkReady then finds the prefix differs from its visibility and the move puts it right if it changes
    again. Without `private_prefix` (an execution started before it was passed), the claim's prefix."""
    _stop_if_superseded(reporter, video_id)
    if private_prefix is None or media_prefix == private_prefix or reporter.public:
        return media_prefix
    return private_prefix


def _copy_under(s3: Any, bucket: str, key: str, prefix: str) -> None:
    """Copy a chunk's segment (`<its prefix><rendition>/<name>`) to the same place under `prefix`,
    keeping its Content-Type and Cache-Control."""
    name = "/".join(key.rsplit("/", 2)[-2:])
    s3.copy_object(Bucket=bucket, Key=f"{prefix}{name}", CopySource={"Bucket": bucket, "Key": key})


def _stopped(reporter: ProgressReporter, video_id: str) -> Exception:
    # The error's name reaches MarkFailed: a superseded run must leave the record and outputs alone.
    return SupersededError(video_id) if reporter.superseded else TranscodeCancelledError(video_id)


@contextlib.contextmanager
def _superseded_as_such(reporter: ProgressReporter, video_id: str) -> Iterator[None]:
    try:
        yield
    except EncodeCancelled as exc:
        raise _stopped(reporter, video_id) from exc


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


def transcode(
    video_id: str, key: str, media_prefix: str, attempt: str | None = None, private_prefix: str | None = None
) -> dict[str, Any]:
    s = settings()
    started = time.monotonic()
    reporter = _reporter(video_id, attempt)
    work = Path(tempfile.mkdtemp(prefix=f"transcode-{video_id}-", dir=s.work_dir))
    try:
        source = work / "source"
        aws.s3().download_file(s.uploads_bucket, key, str(source), Config=DOWNLOAD)
        info = probe(source)
        renditions = ladder(info)
        reporter.report(0.02)
        out = work / "out"
        job = LadderJob(source, out, info, tuple(renditions))
        with _superseded_as_such(reporter, video_id):
            encode_ladder(
                job,
                on_progress=lambda f: reporter.report(0.02 + (ENCODED - 0.02) * f),
                should_stop=reporter.should_stop,
            )
        stats = write_master(out, renditions, info.fps)
        make_poster(source, info, out / "poster.jpg")
        make_storyboard(source, info, out / "storyboard.jpg", out / "storyboard.vtt", "storyboard.jpg")
        reporter.report(0.92)
        media_prefix = _prefix_to_write(reporter, video_id, media_prefix, private_prefix)
        uploaded = upload_tree(aws.s3(), out, s.media_bucket, media_prefix)
        logger.info(
            "transcoded",
            extra={
                "video_id": video_id,
                "objects": uploaded,
                "rungs": len(renditions),
                "duration_s": info.duration_s,
            },
        )
        # Seconds of work per second of video is what a capacity plan (and the bill) follows.
        seconds("TranscodeSeconds", time.monotonic() - started)
        seconds("SourceSeconds", info.duration_s)
        return _made(media_prefix, info, stats)
    finally:
        shutil.rmtree(work, ignore_errors=True)


# --- long sources, in chunks (the publish workflow's Map) -----------------------------------------------


def _workspace(video_id: str, what: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=f"{what}-{video_id}-", dir=settings().work_dir))


def _source(key: str, work: Path) -> Path:
    source = work / "source"
    aws.s3().download_file(settings().uploads_bucket, key, str(source), Config=DOWNLOAD)
    return source


def plan(key: str, video_id: str) -> dict[str, Any]:
    """Probe, and decide: one invocation, or chunks in parallel (their plan rides in the workflow state)."""
    work = _workspace(video_id, "plan")
    try:
        info = probe(_source(key, work))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    s = settings()
    if info.duration_s <= s.chunk_threshold_s:
        return {"chunked": False}
    return {
        "chunked": True,
        "info": dataclasses.asdict(info),
        "renditions": [dataclasses.asdict(r) for r in ladder(info)],
        "chunks": [dataclasses.asdict(c) for c in chunks.plan(info.duration_s, s.chunk_s)],
    }


def _planned(state: dict[str, Any]) -> tuple[SourceInfo, list[Rendition]]:
    return SourceInfo(**state["info"]), [Rendition(**r) for r in state["renditions"]]


def encode_chunk(
    video_id: str,
    key: str,
    media_prefix: str,
    state: dict[str, Any],
    item: dict[str, Any],
    attempt: str | None = None,
    private_prefix: str | None = None,
) -> dict[str, Any]:
    """One chunk's video, all rungs, straight to segments in the media bucket, under the prefix the
    video's visibility allows when it uploads them (returned: Finish gathers every chunk under one).

    Progress: the chunks run in parallel, so each adds its own share of the encode's progress (its part
    of the timeline) as it goes; the stored sum only rises, and is ENCODED when every chunk is done.
    """
    s = settings()
    info, renditions = _planned(state)
    chunk = chunks.Chunk(**item)
    reporter = _reporter(video_id, attempt)
    share = ChunkShare(reporter, chunk.start_s, chunk.duration_s, info.duration_s, round(ENCODED * 100))
    work = _workspace(video_id, f"chunk{chunk.index}")
    try:
        out = work / "out"
        with _superseded_as_such(reporter, video_id):
            chunks.encode_chunk(
                LadderJob(_source(key, work), out, info, tuple(renditions)),
                chunk,
                reporter.should_stop,
                share,
            )
        codecs = {r.name: codecs_of(out / r.name / f"seg_{chunk.first_segment:05d}.ts") for r in renditions}
        written = _prefix_to_write(reporter, video_id, media_prefix, private_prefix)
        upload_tree(aws.s3(), out, s.media_bucket, written)
        share.done()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {"index": chunk.index, "codecs": codecs, "media_prefix": written}


def finish(
    video_id: str,
    key: str,
    media_prefix: str,
    state: dict[str, Any],
    results: list[dict[str, Any]],
    attempt: str | None = None,
    private_prefix: str | None = None,
) -> dict[str, Any]:
    """The audio (one pass, if the source has any), the stitched playlists, master, poster and
    storyboard, written under the prefix the video's visibility allows when they are written. Chunks
    that went under the other prefix (the visibility changed while they ran) are gathered there first,
    so the playlists and every segment they name are under one prefix."""
    s = settings()
    s3 = aws.s3()
    info, renditions = _planned(state)
    reporter = _reporter(video_id, attempt)
    # A superseded run must not stitch (and then delete) the chunk playlists the newer run wrote.
    _stop_if_superseded(reporter, video_id)
    plan_chunks = [chunks.Chunk(**c) for c in state["chunks"]]
    # where each chunk wrote (a result from before chunks said so: the claim's prefix)
    written = {c.index: media_prefix for c in plan_chunks} | {
        r["index"]: str(r.get("media_prefix") or media_prefix) for r in results
    }
    sizes = {
        o["Key"]: o["Size"]
        for prefix in set(written.values())
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=s.media_bucket, Prefix=prefix)
        for o in page.get("Contents", [])
    }
    first = min(results, key=lambda r: r["index"])
    work = _workspace(video_id, "finish")
    try:
        source, out = _source(key, work), work / "out"
        audio = None
        if info.has_audio:  # a silent source has no audio rendition, as in the whole-file path
            with _superseded_as_such(reporter, video_id):
                chunks.encode_audio(
                    source,
                    out,
                    info.duration_s,
                    on_progress=lambda f: reporter.report(ENCODED + 0.04 * f),
                    should_stop=reporter.should_stop,
                )
            audio = chunks.audio_stats(out)
        stats = []
        segments_at: list[str] = []  # every chunk segment, under the prefix its chunk wrote it to
        for r in renditions:
            texts, measured = [], []
            for c in plan_chunks:
                at = f"{written[c.index]}{r.name}/"
                texts.append(
                    s3.get_object(Bucket=s.media_bucket, Key=at + c.playlist)["Body"].read().decode()
                )
                for duration, uri in chunks.join_playlists(texts[-1:])[1]:
                    measured.append((duration, sizes[at + uri]))
                    segments_at.append(at + uri)
            (out / r.name).mkdir(parents=True, exist_ok=True)
            (out / r.name / "index.m3u8").write_text(chunks.join_playlists(texts)[0])
            stats.append(stats_from_segments(r, measured, first["codecs"][r.name]))
        chunks.write_master_with_audio(out, stats, audio, info.fps)
        make_poster(source, info, out / "poster.jpg")
        make_storyboard(source, info, out / "storyboard.jpg", out / "storyboard.vtt", "storyboard.jpg")
        source.unlink()
        reporter.report(0.95)
        media_prefix = _prefix_to_write(reporter, video_id, media_prefix, private_prefix)
        moved = [key for key in segments_at if not key.startswith(media_prefix)]
        with ThreadPoolExecutor(8) as pool:  # server-side copies, before the playlists that name them
            list(pool.map(lambda k: _copy_under(s3, s.media_bucket, k, media_prefix), moved))
        upload_tree(s3, out, s.media_bucket, media_prefix)
        _stop_if_superseded(reporter, video_id)  # the chunk playlists may be a newer run's by now
        leftovers = [f"{written[c.index]}{r.name}/{c.playlist}" for r in renditions for c in plan_chunks]
        gone = [*leftovers, *moved]
        for i in range(0, len(gone), 1000):  # DeleteObjects takes 1,000 keys at a time
            s3.delete_objects(
                Bucket=s.media_bucket, Delete={"Objects": [{"Key": k} for k in gone[i : i + 1000]]}
            )
        seconds("SourceSeconds", info.duration_s)  # the chunks' encode time is spread over many sandboxes
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {**_made(media_prefix, info, stats, audio.codecs if audio else None), "chunks": len(plan_chunks)}


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    os.environ.setdefault("TMPDIR", settings().work_dir)
    mode = event.get("mode", "whole")
    attempt = event.get("attempt")
    if mode == "plan":
        return plan(event["key"], event["video_id"])
    # the prefix a video made private meanwhile is written to instead of the claim's public one
    private_prefix = event.get("private_prefix")
    if mode == "chunk":
        return encode_chunk(
            event["video_id"],
            event["key"],
            event["media_prefix"],
            event["plan"],
            event["chunk"],
            attempt,
            private_prefix,
        )
    if mode == "finish":
        return finish(
            event["video_id"],
            event["key"],
            event["media_prefix"],
            event["plan"],
            event["chunks"],
            attempt,
            private_prefix,
        )
    return transcode(event["video_id"], event["key"], event["media_prefix"], attempt, private_prefix)
