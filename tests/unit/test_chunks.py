"""Chunked encoding of long sources plays like the unchunked encode: same duration, same cut points,
continuous timestamps across chunk boundaries, every frame once, and audio without seams."""

from __future__ import annotations

import http.server
import itertools
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import av
import boto3
import m3u8
import pytest

from functions.transcode import chunks, wiring
from functions.transcode.encoder import LadderJob, encode_ladder
from functions.transcode.ladder import SEGMENT_S, ladder
from functions.transcode.models import Run
from functions.transcode.pipeline import ENCODED, SupersededError
from functions.transcode.probe import SourceInfo, probe
from tests.clips import make_clip

SECONDS, FPS = 26, 25


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SourceInfo]:
    path = make_clip(tmp_path_factory.mktemp("long") / "long.mp4", "640x360", SECONDS, fps=FPS, gop=50)
    return path, probe(path)


@pytest.fixture(scope="module")
def chunked(source: tuple[Path, SourceInfo], tmp_path_factory: pytest.TempPathFactory) -> Path:
    path, info = source
    out = tmp_path_factory.mktemp("chunked")
    renditions = ladder(info)
    job = LadderJob(path, out, info, tuple(renditions), threads=1)
    plan = chunks.plan(info.duration_s, chunk_s=10)
    with ThreadPoolExecutor(2) as pool:  # in parallel, as the workflow's Map runs them
        list(pool.map(lambda c: chunks.encode_chunk(job, c), plan))
    chunks.encode_audio(path, out, info.duration_s)
    chunks.stitch(out, renditions, plan)
    chunks.write_master_with_audio(
        out, chunks.local_video_stats(out, renditions), chunks.audio_stats(out), info.fps
    )
    return out


@pytest.fixture(scope="module")
def unchunked(source: tuple[Path, SourceInfo], tmp_path_factory: pytest.TempPathFactory) -> Path:
    path, info = source
    out = tmp_path_factory.mktemp("whole")
    encode_ladder(LadderJob(path, out, info, tuple(ladder(info))))
    return out


def test_plan_cuts_on_segment_boundaries() -> None:
    plan = chunks.plan(26, chunk_s=10)
    assert [(c.start_s, c.duration_s, c.first_segment) for c in plan] == [(0, 12, 0), (12, 12, 3), (24, 2, 6)]
    assert all(c.start_s % SEGMENT_S == 0 for c in plan)
    assert len(chunks.plan(8, chunk_s=60)) == 1


def test_same_duration_and_cut_points_as_unchunked(chunked: Path, unchunked: Path) -> None:
    for name in ("360p", "240p"):
        ours = m3u8.load(str(chunked / name / "index.m3u8"))
        theirs = m3u8.load(str(unchunked / name / "index.m3u8"))
        assert [round(float(s.duration), 2) for s in ours.segments] == [
            round(float(s.duration), 2) for s in theirs.segments
        ]
        assert sum(float(s.duration) for s in ours.segments) == pytest.approx(SECONDS, abs=0.05)
        assert ours.is_endlist
        assert [s.uri for s in ours.segments] == [f"seg_{i:05d}.ts" for i in range(len(ours.segments))]


def test_video_timestamps_continue_across_chunks_with_every_frame_once(chunked: Path) -> None:
    playlist = m3u8.load(str(chunked / "360p" / "index.m3u8"))
    times: list[float] = []
    for segment in playlist.segments:
        with av.open(str(chunked / "360p" / str(segment.uri))) as container:
            times += [float(frame.time) for frame in container.decode(video=0)]
    assert len(times) == SECONDS * FPS  # no frame lost or doubled at a boundary
    steps = {round(b - a, 3) for a, b in itertools.pairwise(times)}
    assert steps == {round(1 / FPS, 3)}  # strictly continuous: no gap, no overlap, across every boundary


def test_audio_is_one_seamless_track(chunked: Path) -> None:
    playlist = m3u8.load(str(chunked / "audio" / "index.m3u8"))
    samples, expected_next, worst_gap = 0, None, 0.0
    for segment in playlist.segments:
        with av.open(str(chunked / "audio" / str(segment.uri))) as container:
            for frame in container.decode(audio=0):
                if expected_next is not None:
                    worst_gap = max(worst_gap, abs(float(frame.time) - expected_next))
                expected_next = float(frame.time) + frame.samples / frame.sample_rate
                samples += frame.samples
    assert samples / 48000 == pytest.approx(SECONDS, abs=0.05)
    assert worst_gap < 0.001


def test_audio_and_video_start_together(chunked: Path) -> None:
    with (
        av.open(str(chunked / "360p" / "seg_00000.ts")) as v,
        av.open(str(chunked / "audio" / "seg_00000.ts")) as a,
    ):
        video_start = float(next(v.decode(video=0)).time)
        audio_start = float(next(a.decode(audio=0)).time)
    assert abs(video_start - audio_start) < 0.05  # at most AAC's priming: in sync


def test_master_names_the_audio_group_on_every_variant(chunked: Path) -> None:
    master = m3u8.load(str(chunked / "master.m3u8"))
    assert [m.group_id for m in master.media if m.type == "AUDIO"] == ["audio"]
    for p in master.playlists:
        assert p.stream_info.audio == "audio"
        assert "mp4a.40.2" in p.stream_info.codecs
        assert p.stream_info.bandwidth >= p.stream_info.average_bandwidth > 0


# --- a silent long source, through the transcode function's chunked steps (plan, chunks, finish) -----


def test_a_long_silent_source_is_chunked_without_an_audio_rendition(buckets: None, tmp_path: Path) -> None:
    seconds = 10
    clip = make_clip(tmp_path / "silent.mp4", "640x360", seconds, fps=FPS, audio=False, gop=50)
    boto3.client("s3").upload_file(str(clip), "uploads", "originals/v1/silent.mp4")
    ddb = boto3.client("dynamodb")
    ddb.put_item(  # as the Claim step leaves it
        TableName="videos",
        Item={
            "pk": {"S": "VIDEO#v1"},
            "sk": {"S": "VIDEO"},
            "status": {"S": "processing"},
            "progress": {"N": "0"},
            "attempt": {"S": "run-1"},
        },
    )
    key, prefix = "originals/v1/silent.mp4", "hls/v1/"

    pipeline, run = wiring.pipeline(), Run("v1", key, prefix, "run-1")
    state = pipeline.plan(key, "v1")
    assert state["chunked"]
    assert len(state["chunks"]) == 3  # 4 + 4 + 2 s
    results = [pipeline.encode_chunk(run, state, c) for c in state["chunks"]]
    progress = ddb.get_item(TableName="videos", Key={"pk": {"S": "VIDEO#v1"}, "sk": {"S": "VIDEO"}})
    assert progress["Item"]["progress"] == {"N": str(round(ENCODED * 100))}  # the chunks' shares add up
    output = pipeline.finish(run, state, results)  # used to fail: it encoded audio

    out = tmp_path / "out"
    s3 = boto3.client("s3")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="media", Prefix=prefix)["Contents"]]
    assert not [k for k in keys if "chunk_" in k or "/audio/" in k]
    for k in keys:
        (out / k).parent.mkdir(parents=True, exist_ok=True)
        s3.download_file("media", k, str(out / k))
    master = m3u8.load(str(out / prefix / "master.m3u8"))
    assert master.is_variant
    assert master.media == []  # no audio group to point at
    assert [p.stream_info.resolution for p in master.playlists] == [(640, 360), (426, 240)]
    for p in master.playlists:
        assert p.stream_info.audio is None
        assert p.stream_info.codecs.startswith("avc1.64")
        assert "mp4a" not in p.stream_info.codecs
    assert all("mp4a" not in r["codecs"] for r in output["renditions"])

    playlist = m3u8.load(str(out / prefix / "240p" / "index.m3u8"))
    assert playlist.is_endlist
    assert [s.uri for s in playlist.segments] == [f"seg_{i:05d}.ts" for i in range(3)]
    times: list[float] = []
    for segment in playlist.segments:
        with av.open(str(out / prefix / "240p" / str(segment.uri))) as container:
            assert not container.streams.audio
            times += [float(frame.time) for frame in container.decode(video=0)]
    assert len(times) == seconds * FPS
    assert {round(b - a, 3) for a, b in itertools.pairwise(times)} == {round(1 / FPS, 3)}


def test_a_superseded_run_stops_before_it_writes_to_the_media_bucket(buckets: None, tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "clip.mp4", "426x240", 6, fps=FPS, audio=False)
    boto3.client("s3").upload_file(str(clip), "uploads", "originals/v1/clip.mp4")
    key, prefix = "originals/v1/clip.mp4", "hls/v1/"
    pipeline = wiring.pipeline()
    state = pipeline.plan(key, "v1")
    # Cancelled, retried and claimed again by run-2 while run-1 was encoding this chunk.
    boto3.client("dynamodb").put_item(
        TableName="videos",
        Item={
            "pk": {"S": "VIDEO#v1"},
            "sk": {"S": "VIDEO"},
            "status": {"S": "processing"},
            "progress": {"N": "0"},
            "attempt": {"S": "run-2"},
        },
    )
    with pytest.raises(SupersededError):
        pipeline.encode_chunk(Run("v1", key, prefix, "run-1"), state, state["chunks"][0])
    with pytest.raises(SupersededError):
        pipeline.finish(Run("v1", key, prefix, "run-1"), state, [{"index": 0, "codecs": {}}])
    assert "Contents" not in boto3.client("s3").list_objects_v2(Bucket="media", Prefix=prefix)
    # The current run is not stopped by the same checks.
    assert pipeline.encode_chunk(Run("v1", key, prefix, "run-2"), state, state["chunks"][0])["index"] == 0
    assert boto3.client("s3").list_objects_v2(Bucket="media", Prefix=prefix)["KeyCount"] > 0


class _Ranges(http.server.BaseHTTPRequestHandler):
    """Serves one file with HTTP ranges, as S3 does a presigned GET, counting the bytes it sends."""

    body = b""
    sent = 0

    def do_GET(self) -> None:
        size = len(self.body)
        first, last = 0, size - 1
        asked = self.headers.get("Range", "")
        if asked.startswith("bytes="):
            start, _, end = asked.removeprefix("bytes=").partition("-")
            first, last = int(start or 0), min(int(end) if end else size - 1, size - 1)
        part = self.body[first : last + 1]
        self.send_response(206 if asked else 200)
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(len(part)))
        if asked:
            self.send_header("Content-Range", f"bytes {first}-{last}/{size}")
        self.end_headers()
        # small pieces through a small send buffer: what is counted is what the reader took, give or take
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 64 * 1024)
        try:
            for i in range(0, len(part), 64 * 1024):
                self.wfile.write(part[i : i + 64 * 1024])
                type(self).sent += len(part[i : i + 64 * 1024])
        except (BrokenPipeError, ConnectionResetError):  # FFmpeg closed it: it had what it needed
            return

    def log_message(self, *args: object) -> None:
        pass


def test_a_chunk_reads_only_its_own_byte_range_of_the_source(
    source: tuple[Path, SourceInfo], tmp_path: Path
) -> None:
    path, info = source
    body = path.read_bytes()
    _Ranges.body, _Ranges.sent = body, 0
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Ranges)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/long.mp4"
        plan = chunks.plan(info.duration_s, chunk_s=8)  # 8 + 8 + 8 + 2 s
        job = LadderJob(url, tmp_path, info, tuple(ladder(info)), threads=1)
        chunks.encode_chunk(job, plan[-1])  # 24 s to 26 s
    finally:
        server.shutdown()
    assert len(list((tmp_path / "360p").glob("seg_*.ts"))) == 1
    # The index (the moov, at the end here), the first seconds FFmpeg reads to learn the streams (5 s
    # of 26 here; nothing next to a 2-minute chunk of an hour), then the chunk's own 2 s: not the 17 s
    # in between, nor the whole file a download would have been.
    probed, own = 5 / info.duration_s, plan[-1].duration_s / info.duration_s
    assert _Ranges.sent < (probed + own + 0.12) * len(body), f"{_Ranges.sent} of {len(body)} bytes read"
