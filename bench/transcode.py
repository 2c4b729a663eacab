"""Transcoding: the platform's upload-to-ready and upload-to-playable times against the raw ladder the
transcoding issue defines, where the time goes, and the transcoder's memory.

Baseline (issue 13): ONE FFmpeg process encoding the raw 4-rung ladder, 1080/720/480/360 x264 `veryfast`,
from one decode, default rate control, 4 s GOP, HLS output, no platform (`raw_command`, written here from
the issue's words, not from our code). Second baseline: the platform's own encode command
(`LadderJob.command()` as the function runs it: five rungs, VBV caps, forced keyframes, poster and
storyboard outputs, EVENT playlists), run directly on the local file.

Platform: a generated `--seconds` (20) s `--size` (1920x1080) clip (testsrc2 + a sine, libx264 at about
8 Mbps, made once) sent through the local cloud as a client would (POST /videos, one PUT to the presigned
URL, GET /videos/{id} every 0.1 s), timed from the start of the PUT to `playable` and to `ready`.
Goals: ready <= 1.1x raw, playable <= 0.3x raw. The three run `--rounds` (2) times, interleaved (the order
rotated each round), medians reported. Where the time goes comes from the same runs: the PUT, then the
transcode function's own log lines as the local cloud hands them over (its `whole` step starting, the
`transcoded` line), then `ready` seen by the client.

Memory: `transcode()` (FFmpeg reading the upload from its URL, the live publisher, the final playlists,
master, pictures) run in a child Python process with the function's environment, against a short and a
10x longer source; the child's peak RSS (VmHWM) should stay flat (within 1.2x). FFmpeg's own memory is
not in it: FFmpeg runs as the child's own child process (its peak is sampled from /proc and shown apart).

    python -m bench.transcode [--seconds 20] [--size 1920x1080] [--rounds 2] [--chunks]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.auth import Client
from bench.stats import line
from bench.videos import _put, _sign_up
from functions.transcode.encoder import LadderJob, ffmpeg
from functions.transcode.ladder import ladder
from functions.transcode.probe import probe
from functions.videos.dal import VideoRepository
from functions.videos.models import Status, UploadRecord, VideoRecord
from infra.local.cloud import LocalCloud, free_port
from infra.topology import TOPOLOGY
from tests.clips import make_clip

VIDEOS = "/api/v1/videos"
MIB = 2**20
SOURCE_KBPS = 8000
POLL_S = 0.1
MEMORY_SIZE = "640x360"
MEMORY_SECONDS = (20, 200)

# The child of the memory figure: only the transcoder's own imports, so its memory is the function's.
# VmHWM, not getrusage: Linux carries ru_maxrss across exec, so a child forked from this (large) process
# would report at least this process's RSS. FFmpeg's peak is sampled from its /proc entries while it runs.
CHILD = """
import json, os, sys, threading
from functions.transcode import wiring
from functions.transcode.models import Run

def hwm_kib(pid="self"):
    try:
        with open(f"/proc/{pid}/status") as status:
            return next(int(ln.split()[1]) for ln in status if ln.startswith("VmHWM:"))
    except (OSError, StopIteration):
        return 0

def ffmpeg_peaks(stop, peaks):
    me = str(os.getpid())
    while not stop.wait(0.1):
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open(f"/proc/{pid}/stat") as stat, open(f"/proc/{pid}/comm") as comm:
                    parent = stat.read().rpartition(")")[2].split()[1]
                    name = comm.read()
            except OSError:
                continue
            if parent == me and name.startswith("ffmpeg"):  # after its exec: FFmpeg's own memory
                peaks[pid] = max(peaks.get(pid, 0), hwm_kib(pid))

imported, stop, peaks = hwm_kib(), threading.Event(), {}
sampler = threading.Thread(target=ffmpeg_peaks, args=(stop, peaks), daemon=True)
sampler.start()
result = wiring.pipeline().transcode(Run(sys.argv[1], sys.argv[2], sys.argv[3]))
stop.set()
sampler.join()
print("BENCH " + json.dumps({
    "imported_kib": imported,
    "peak_kib": hwm_kib(),
    "ffmpeg_peak_kib": max(peaks.values(), default=0),
    "renditions": [r["name"] for r in result["renditions"]],
}))
"""


def _seconds(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


# --- the ways -----------------------------------------------------------------------------------------

RAW_HEIGHTS = (1080, 720, 480, 360)


def raw_command(source: Path, out: Path, fps: float, has_audio: bool) -> list[str]:
    """The issue's baseline: the 4-rung ladder from one decode in one FFmpeg process, x264 veryfast at its
    default rate control (CRF 23), a 4 s GOP, HLS (4 s segments, VOD playlists). Nothing of the platform."""
    n = len(RAW_HEIGHTS)
    graph = f"[0:v]split={n}" + "".join(f"[s{i}]" for i in range(n))
    graph += "".join(f";[s{i}]scale=-2:{h}[v{i}]" for i, h in enumerate(RAW_HEIGHTS))
    cmd = [*ffmpeg(), "-i", str(source), "-filter_complex", graph]
    for i in range(n):
        cmd += ["-map", f"[v{i}]"] + (["-map", "0:a:0"] if has_audio else [])
    cmd += ["-c:v", "libx264", "-preset", "veryfast", "-g", str(round(fps * 4))]
    if has_audio:
        cmd += ["-c:a", "aac"]
    streams = " ".join(f"v:{i}" + (f",a:{i}" if has_audio else "") for i in range(n))
    return [
        *cmd,
        "-f",
        "hls",
        "-hls_time",
        "4",
        "-hls_playlist_type",
        "vod",
        "-hls_segment_filename",
        str(out / "%v" / "seg_%05d.ts"),
        "-var_stream_map",
        streams,
        str(out / "%v" / "index.m3u8"),
    ]


def raw(source: Path, out: Path) -> float:
    info = probe(source)
    for i in range(len(RAW_HEIGHTS)):
        (out / str(i)).mkdir(parents=True, exist_ok=True)
    try:
        return _seconds(
            lambda: subprocess.run(raw_command(source, out, info.fps, info.has_audio), check=True)
        )
    finally:
        shutil.rmtree(out, ignore_errors=True)


def own_command(source: Path, out: Path) -> float:
    """The platform's own encode command, as the transcode function runs it, on the local file."""
    info = probe(source)
    job = LadderJob(source, out, info, tuple(ladder(info)), live=True, pictures=True)
    for r in job.renditions:
        (out / r.name).mkdir(parents=True, exist_ok=True)
    try:
        return _seconds(lambda: subprocess.run(job.command(), check=True, stdout=subprocess.DEVNULL))
    finally:
        shutil.rmtree(out, ignore_errors=True)


class Timeline:
    """The transcode function's log lines as the local cloud hands them over, stamped on arrival."""

    def __init__(self) -> None:
        self.lines: list[tuple[float, str]] = []

    def sink(self, source: str, text: str) -> None:
        if "transcode" in source or '"publish.transcode"' in text:
            self.lines.append((time.perf_counter(), text))

    def first(self, video_since: float, *needles: str) -> float | None:
        for stamp, text in self.lines:
            if stamp >= video_since and all(n in text for n in needles):
                return stamp
        return None


class Platform:
    """A signed-in client of the local cloud, uploading videos and waiting for them to play and be ready."""

    def __init__(self, cloud: LocalCloud, timeline: Timeline) -> None:
        self.cloud = cloud
        self.timeline = timeline
        _, self.bearer = _sign_up(Client(cloud.port))

    def upload(self, source: Path, timeout_s: float = 300) -> dict[str, float]:
        """Seconds from the start of the PUT to: the PUT done, the encode step starting, playable (first
        poll that says so), the function done, ready."""
        client = Client(self.cloud.port)  # a new connection: the front door closes one idle for 5 s
        size = source.stat().st_size
        request = {
            "title": "Bench transcode",
            "upload": {"filename": source.name, "content_type": "video/mp4", "size_bytes": size},
        }
        created = json.loads(client.call("POST", VIDEOS, request, self.bearer, expect=201)[1])
        video_id, plan = created["video"]["id"], created["upload"]
        assert plan["method"] == "PUT", f"{size} bytes planned as {plan['method']}: expected one PUT"
        started = time.perf_counter()
        _put(plan["url"], source, 0, size, plan["headers"])
        marks = {"put": time.perf_counter() - started}
        client = Client(self.cloud.port)
        deadline = time.monotonic() + timeout_s
        while True:
            video = json.loads(client.call("GET", f"{VIDEOS}/{video_id}", headers=self.bearer, expect=200)[1])
            if video.get("playable") and "playable" not in marks:
                marks["playable"] = time.perf_counter() - started
            if video["status"] == "ready":
                marks["ready"] = time.perf_counter() - started
                break
            if video["status"] == "failed" or time.monotonic() > deadline:
                raise AssertionError(f"{video_id} ended {video['status']}: {video.get('error')}")
            time.sleep(POLL_S)
        step = self.timeline.first(started, '"step":"whole"')
        done = self.timeline.first(started, '"transcoded"', video_id)
        marks["encode starts"] = (step - started) if step else float("nan")
        marks["function done"] = (done - started) if done else float("nan")
        marks.setdefault("playable", float("nan"))
        return marks


def ladder_times(
    cloud: LocalCloud, timeline: Timeline, source: Path, work: Path, rounds: int
) -> dict[str, list[Any]]:
    platform = Platform(cloud, timeline)
    warm = platform.upload(make_clip(work / "warm.mp4", "426x240", 2))  # warm every sandbox
    print(f"  warm-up: a 2 s 240p clip ready in {warm['ready']:.1f} s (sandboxes started; not counted)")
    samples: dict[str, list[Any]] = {"platform": [], "raw": [], "own command": []}
    ways: dict[str, Callable[[], object]] = {
        "platform": lambda: samples["platform"].append(platform.upload(source)),
        "raw": lambda: samples["raw"].append(raw(source, work / "out")),
        "own command": lambda: samples["own command"].append(own_command(source, work / "out")),
    }
    names = list(ways)
    for i in range(rounds):  # interleaved, the order rotated: drift and position hit every way alike
        for name in names[i % len(names) :] + names[: i % len(names)]:
            ways[name]()
    return samples


# --- memory --------------------------------------------------------------------------------------------


def transcode_rss(cloud: LocalCloud, source: Path) -> dict[str, Any]:
    """Run `transcode()` on `source` in a child Python process; its peak RSS and FFmpeg's, in KiB."""
    video_id = uuid.uuid4().hex
    key = f"bench/{video_id}/{source.name}"  # not under originals/: no upload notification, no workflow
    cloud.aws.client("s3").upload_file(str(source), cloud.names.bucket("uploads"), key)
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    record = VideoRecord(  # in processing, as the workflow leaves it: progress and the cancel check read it
        id=video_id,
        owner_id="bench",
        title="Bench memory",
        status=Status.PROCESSING,
        upload=UploadRecord(
            key=key,
            filename=source.name,
            content_type="video/mp4",
            size_bytes=source.stat().st_size,
            method="PUT",
            expires_at=int(time.time()) + 86_400,
        ),
        created_at=now,
        updated_at=now,
    )
    table = cloud.names.table("videos")
    cloud.aws.client("dynamodb").put_item(TableName=table, Item=VideoRepository(table)._item(record))
    env = cloud.sandbox_environment(TOPOLOGY.function("transcode"))
    done = subprocess.run(
        [sys.executable, "-c", CHILD, video_id, key, f"hls/{video_id}/"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    results = [ln for ln in done.stdout.splitlines() if ln.startswith("BENCH ")]
    if done.returncode != 0 or not results:
        raise AssertionError(f"the transcode child failed ({done.returncode}): {done.stderr[-2000:]}")
    figures: dict[str, Any] = json.loads(results[-1].removeprefix("BENCH "))
    listed = cloud.aws.client("s3").list_objects_v2(
        Bucket=cloud.names.bucket("media"), Prefix=f"hls/{video_id}/"
    )
    figures["objects"] = listed.get("KeyCount", 0)
    return figures


# --- report --------------------------------------------------------------------------------------------


def run(seconds: float = 20, size: str = "1920x1080", rounds: int = 2, chunks: bool = False) -> None:
    timeline = Timeline()
    with (
        LocalCloud(TOPOLOGY, port=free_port(), log_sink=timeline.sink) as cloud,
        tempfile.TemporaryDirectory(prefix="bench-transcode-") as tmp,
    ):
        work = Path(tmp)
        source = make_clip(work / "source.mp4", size, seconds, kbps=SOURCE_KBPS)
        info = probe(source)
        rungs = ", ".join(r.name for r in ladder(info))
        print(
            f"transcode: a {info.duration_s:.0f} s {info.width}x{info.height} clip at "
            f"{(info.bitrate or 0) / 1e6:.1f} Mbps ({source.stat().st_size / MIB:.1f} MiB), platform ladder "
            f"{rungs}; {rounds} rounds, interleaved"
        )
        samples = ladder_times(cloud, timeline, source, work, rounds)
        raw_s, own_s = statistics.median(samples["raw"]), statistics.median(samples["own command"])
        marks = {k: statistics.median(m[k] for m in samples["platform"]) for k in samples["platform"][0]}
        print("  raw ladder runs: " + ", ".join(f"{v:.1f} s" for v in samples["raw"]))
        print("  own command runs: " + ", ".join(f"{v:.1f} s" for v in samples["own command"]))
        print(
            "  platform runs (playable / ready): "
            + ", ".join(f"{m['playable']:.1f} / {m['ready']:.1f} s" for m in samples["platform"])
        )
        print(
            line("upload to ready through the platform", marks["ready"], raw_s, "s")
            + "  (baseline: the raw 4-rung ladder, one FFmpeg; goal <= 1.1x)"
        )
        print(
            line("upload to playable through the platform", marks["playable"], raw_s, "s")
            + "  (baseline: the raw 4-rung ladder; goal <= 0.3x)"
        )
        print(
            line("the platform's own encode command alone", own_s, raw_s, "s")
            + "  (5 rungs, VBV caps, forced keyframes, poster + storyboard outputs)"
        )
        print(
            line("upload to ready through the platform", marks["ready"], own_s, "s")
            + "  (second baseline: the platform's own command, run directly)"
        )
        paired = [
            (m["ready"] / r, m["playable"] / r)
            for m, r in zip(samples["platform"], samples["raw"], strict=True)
        ]
        print(
            "  within each round, ready/raw: "
            + ", ".join(f"{a:.2f}x" for a, _ in paired)
            + "; playable/raw: "
            + ", ".join(f"{b:.2f}x" for _, b in paired)
        )
        print(
            f"  where the time goes (medians, from the start of the PUT): PUT done {marks['put']:.2f} s; "
            f"the encode step starts {marks['encode starts']:.2f} s (S3 notification, ingest, workflow, claim, "
            f"plan); playable {marks['playable']:.2f} s; the function done {marks['function done']:.2f} s; "
            f"ready seen {marks['ready']:.2f} s (MarkReady, the poll every {POLL_S} s)"
        )

        print(
            f"transcode memory: transcode() in a child Python process, {MEMORY_SIZE} sources of "
            f"{MEMORY_SECONDS[0]} s and {MEMORY_SECONDS[1]} s"
        )
        figures = {}
        for length in MEMORY_SECONDS:
            clip = make_clip(work / f"memory-{length}.mp4", MEMORY_SIZE, length)
            figures[length] = transcode_rss(cloud, clip)
            f = figures[length]
            print(
                f"  {length:>4} s source ({clip.stat().st_size / MIB:5.1f} MiB, {'+'.join(f['renditions'])}, "
                f"{f['objects']} objects): Python peak RSS {f['peak_kib'] / 1024:6.1f} MiB "
                f"(after imports {f['imported_kib'] / 1024:.1f} MiB); FFmpeg's own peak, apart: "
                f"{f['ffmpeg_peak_kib'] / 1024:.1f} MiB"
            )
        short, long = (figures[length]["peak_kib"] / 1024 for length in MEMORY_SECONDS)
        print(
            line(f"Python peak RSS, {MEMORY_SECONDS[1]} s source", long, short, "MiB")
            + f"  (baseline: the {MEMORY_SECONDS[0]} s source; goal: flat, within 1.2x)"
        )
        print("  FFmpeg runs as the child's own child processes: its memory is not in the Python figure")
    if chunks:
        chunked_vs_whole()


def chunked_vs_whole(
    seconds: int = 120, size: str = "854x480", chunk_s: float = 32, workers: int = 2
) -> None:
    """Wall time of a 2-minute source encoded in chunks on `workers` parallel workers (video chunks, one
    audio pass, stitch) against the whole-file one-process encode, both through functions.transcode."""
    from concurrent.futures import ThreadPoolExecutor

    from functions.transcode import chunks
    from functions.transcode.encoder import LadderJob, encode_ladder
    from functions.transcode.ladder import ladder
    from functions.transcode.probe import probe

    with tempfile.TemporaryDirectory(prefix="bench-chunks-") as tmp:
        source = make_clip(Path(tmp) / "two-minutes.mp4", size, seconds)
        info = probe(source)
        renditions = tuple(ladder(info))
        plan = chunks.plan(info.duration_s, chunk_s)

        def whole() -> float:
            started = time.perf_counter()
            encode_ladder(LadderJob(source, Path(tmp) / "whole", info, renditions))
            return time.perf_counter() - started

        def chunked() -> float:
            started = time.perf_counter()
            out = Path(tmp) / "chunked"
            # Each worker an FFmpeg of its own with a fair share of the cores, as separate Lambdas would be.
            job = LadderJob(source, out, info, renditions, threads=max(1, (os.cpu_count() or 2) // workers))
            with ThreadPoolExecutor(workers) as pool:
                list(pool.map(lambda c: chunks.encode_chunk(job, c), plan))
            chunks.encode_audio(source, out, info.duration_s)
            chunks.stitch(out, list(renditions), plan)
            return time.perf_counter() - started

        whole_s, chunked_s = statistics.median([whole(), whole()]), statistics.median([chunked(), chunked()])
    print(
        f"transcode in chunks: a {seconds} s {size} source, {len(plan)} chunks of {chunk_s:.0f} s, "
        f"{workers} workers on this {os.cpu_count()}-core machine"
    )
    print(
        line("chunked (video chunks + one audio pass + stitch)", chunked_s, whole_s, "s")
        + "  (baseline: the whole file in one FFmpeg)"
    )
    print(
        "  here the workers share one machine's cores, so the gain is small; in AWS each chunk is a Lambda of its "
        "own (up to ~6 vCPUs), which is where the Map's parallelism pays"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--size", default="1920x1080")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--chunks", action="store_true", help="also the chunked encode against the whole file"
    )
    args = parser.parse_args()
    run(args.seconds, args.size, args.rounds, args.chunks)
