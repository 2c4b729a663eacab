"""Transcoding: the platform's upload-to-ready time against FFmpeg alone, and the transcoder's memory.

Upload to ready: a generated `--seconds` (20) s `--size` (1920x1080) clip (testsrc2 + a sine, libx264 at
about 8 Mbps, made once) sent through the local cloud as a client would (POST /videos, one PUT to the
presigned URL, GET /videos/{id} every 0.25 s), timed from the start of the PUT to `ready`: the S3
notification, ingest, the publish workflow, probe, encode, poster, storyboard and the upload to the
media bucket included. Baseline: ONE FFmpeg process encoding the same ladder (five rungs for 1080p) from one decode
(`LadderJob.command()`, run directly). Goal: <= 1.2x.
The naive way: one FFmpeg process per rung, one after another (the same command with a single rendition:
same x264 settings, GOP and segment options), against which the one-process ladder should be below 1x.
The three run `--rounds` (3) times, interleaved (the order rotated each round), medians reported.

Memory: `transcode()` (download, probe, ladder, master playlist, poster, storyboard, upload to the media
bucket) run in a child Python process with the function's environment, against a short and a 10x longer
source; the child's peak RSS (VmHWM) should stay flat. FFmpeg's own memory is not in it: FFmpeg runs as
the child's own child processes (their peak is sampled from /proc and shown apart).

    python -m bench.transcode [--seconds 20] [--size 1920x1080] [--rounds 3]
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
from functions.transcode.encoder import LadderJob, make_poster, make_storyboard
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
POLL_S = 0.25
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


# --- the three ways ------------------------------------------------------------------------------------


def _ffmpeg(job: LadderJob) -> None:
    for r in job.renditions:
        (job.out_dir / r.name).mkdir(parents=True, exist_ok=True)
    subprocess.run(job.command(), check=True, stdout=subprocess.DEVNULL)


def one_process(source: Path, out: Path) -> float:
    """The whole ladder from one decode: the command the transcode function runs."""
    info = probe(source)
    job = LadderJob(source, out, info, tuple(ladder(info)))
    try:
        return _seconds(lambda: _ffmpeg(job))
    finally:
        shutil.rmtree(out, ignore_errors=True)


def naive(source: Path, out: Path) -> float:
    """One FFmpeg per rung, one after another: the source decoded once per rung."""
    info = probe(source)
    jobs = [LadderJob(source, out, info, (r,)) for r in ladder(info)]

    def each() -> None:
        for job in jobs:
            _ffmpeg(job)

    try:
        return _seconds(each)
    finally:
        shutil.rmtree(out, ignore_errors=True)


class Platform:
    """A signed-in client of the local cloud, uploading videos and waiting for them to be ready."""

    def __init__(self, cloud: LocalCloud) -> None:
        self.cloud = cloud
        _, self.bearer = _sign_up(Client(cloud.port))

    def upload_to_ready(self, source: Path, timeout_s: float = 300) -> tuple[float, float]:
        """Seconds from the start of the PUT to `ready`, and to the first poll that saw `processing`."""
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
        client = Client(self.cloud.port)
        processing: float | None = None
        deadline = time.monotonic() + timeout_s
        while True:
            video = json.loads(client.call("GET", f"{VIDEOS}/{video_id}", headers=self.bearer, expect=200)[1])
            if video["status"] == "processing" and processing is None:
                processing = time.perf_counter() - started
            if video["status"] == "ready":
                return time.perf_counter() - started, float("nan") if processing is None else processing
            if video["status"] == "failed" or time.monotonic() > deadline:
                raise AssertionError(f"{video_id} ended {video['status']}: {video.get('error')}")
            time.sleep(POLL_S)


def ladder_times(cloud: LocalCloud, source: Path, work: Path, rounds: int) -> dict[str, list[float]]:
    platform = Platform(cloud)
    warm, _ = platform.upload_to_ready(make_clip(work / "warm.mp4", "426x240", 2))  # warm every sandbox
    print(f"  warm-up: a 2 s 240p clip ready in {warm:.1f} s (sandboxes started; not counted)")
    samples: dict[str, list[float]] = {"platform": [], "to processing": [], "one process": [], "naive": []}

    def through_platform() -> None:
        ready, processing = platform.upload_to_ready(source)
        samples["platform"].append(ready)
        samples["to processing"].append(processing)

    ways: dict[str, Callable[[], object]] = {
        "platform": through_platform,
        "one process": lambda: samples["one process"].append(one_process(source, work / "out")),
        "naive": lambda: samples["naive"].append(naive(source, work / "out")),
    }
    names = list(ways)
    for i in range(rounds):  # interleaved, the order rotated: drift and position hit every way alike
        for name in names[i % len(names) :] + names[: i % len(names)]:
            ways[name]()
    return samples


def extras_seconds(source: Path, work: Path) -> float:
    """The FFmpeg work the function does besides the ladder: the poster and the storyboard."""
    info = probe(source)

    def both() -> None:
        make_poster(source, info, work / "poster.jpg")
        make_storyboard(source, info, work / "sb.jpg", work / "sb.vtt", "sb.jpg")

    return _seconds(both)


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


def run(seconds: float = 20, size: str = "1920x1080", rounds: int = 3) -> None:
    with (
        LocalCloud(TOPOLOGY, port=free_port(), log_sink=lambda s, line: None) as cloud,
        tempfile.TemporaryDirectory(prefix="bench-transcode-") as tmp,
    ):
        work = Path(tmp)
        source = make_clip(work / "source.mp4", size, seconds, kbps=SOURCE_KBPS)
        info = probe(source)
        rungs = ", ".join(r.name for r in ladder(info))
        print(
            f"transcode: a {info.duration_s:.0f} s {info.width}x{info.height} clip at "
            f"{(info.bitrate or 0) / 1e6:.1f} Mbps ({source.stat().st_size / MIB:.1f} MiB), ladder {rungs}; "
            f"{rounds} rounds, interleaved"
        )
        samples = ladder_times(cloud, source, work, rounds)
        s = {name: statistics.median(v) for name, v in samples.items()}
        for name in ("platform", "one process", "naive"):
            print(f"  {name + ' runs:':<17} " + ", ".join(f"{v:.1f} s" for v in samples[name]))
        print(
            line("upload to ready through the platform", s["platform"], s["one process"], "s")
            + "  (baseline: one FFmpeg, the ladder from one decode; goal <= 1.2x)"
        )
        print(
            line("one FFmpeg process, one decode", s["one process"], s["naive"], "s")
            + "  (baseline: one FFmpeg per rung, in turn; goal < 1x)"
        )
        paired = [
            (p / o, o / n)
            for p, o, n in zip(samples["platform"], samples["one process"], samples["naive"], strict=True)
        ]
        print(
            "  the same ratios within each round: platform/one process "
            + ", ".join(f"{a:.2f}x" for a, _ in paired)
            + "; one process/naive "
            + ", ".join(f"{b:.2f}x" for _, b in paired)
        )
        extras = extras_seconds(source, work)
        print(
            f"  platform over FFmpeg alone at the median: {s['platform'] - s['one process']:.1f} s; its extra "
            f"steps: PUT to the first poll seeing `processing` {s['to processing']:.1f} s, "
            f"poster + storyboard {extras:.1f} s (measured once, alone)"
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
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    run(args.seconds, args.size, args.rounds)
