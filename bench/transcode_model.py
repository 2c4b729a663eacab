"""Long sources on Lambda: a model of the publish workflow's Map for a 1-hour 1080p source, simulated from
encode rates measured here.

Measured on this machine (a `--seconds` (12) s 1920x1080 8 Mbps clip, the platform's own commands):
- the chunk encode (`chunks.encode_chunk`: the 5-rung ladder, video only) with 1 FFmpeg thread and with 2,
  as seconds of video per second of wall time; their ratio is the measured scaling from 1 to 2 threads;
- the audio pass (`chunks.encode_audio`) and the pictures (`make_poster` + `make_storyboard`), the two
  passes of `Finish` over the whole source.

Lambda at 10,240 MB has 6 vCPUs (AWS: one vCPU per 1,769 MB). The model: a chunk encodes at the 1-thread
rate times 6 times the measured 2-thread efficiency (x264 rarely scales better from 2 to 6 threads, so
this leans optimistic; it is stated, not measured, above 2). Each chunk adds a cold start and its upload;
`Finish` reads the whole source once per pass (S3 at `S3_MB_S` per connection). The Map runs the chunks
`MAX_CONCURRENCY` (the definition's) at a time, in order. Playable: the chunked path publishes nothing
before `Finish` (only the whole-file path is playable while it encodes), so for a long source playable
is ready.

Cost: GB-seconds of every invocation at 10 GB, priced at the public AWS Lambda arm64 on-demand rate for
us-east-1 (USD 0.0000133334 per GB-second, first pricing tier, as published in 2024-2025; not checked
against the live price list from here), plus nothing for requests (a few dozen per video). Per minute of
video.

    python -m bench.transcode_model [--seconds 12] [--hours 1] [--load-factor 1] [--efficiency E]
"""

from __future__ import annotations

import argparse
import heapq
import json
import shutil
import tempfile
import time
from pathlib import Path

from functions.transcode import chunks
from functions.transcode.encoder import KEYFRAME_TILES_S, LadderJob, make_poster, make_storyboard
from functions.transcode.ladder import ladder
from functions.transcode.probe import probe
from tests.clips import make_clip

LAMBDA_VCPUS = 6
MEMORY_GB = 10
PRICE_PER_GB_S = 0.0000133334  # AWS Lambda arm64, us-east-1, first tier (2024-2025 public price)
COLD_START_S = 3.0  # a 10 GB container image function's cold start (assumed: not measurable here)
S3_MB_S = 80.0  # one S3 GET stream into Lambda (assumed, a typical figure)
SOURCE_MBPS = 8.0
CHUNK_S = 120.0
CHUNK_THRESHOLD_S = 600.0
PLAN_S = 2.0  # probe from the URL: a few range reads (assumed)


def max_concurrency() -> int:
    definition = json.loads(Path("infra/workflows/publish.asl.json").read_text())
    return int(definition["States"]["EncodeChunks"]["MaxConcurrency"])


def _timed(call: object) -> float:
    started = time.perf_counter()
    call()  # type: ignore[operator]
    return time.perf_counter() - started


def measure(seconds: float, work: Path) -> dict[str, float]:
    # a 2 s GOP, as cameras and phones write: the storyboard of a long source decodes keyframes only
    source = make_clip(work / "source.mp4", "1920x1080", seconds, kbps=int(SOURCE_MBPS * 1000), gop=50)
    info = probe(source)
    renditions = tuple(ladder(info))
    chunk = chunks.Chunk(0, 0.0, info.duration_s)
    rates = {}
    for threads in (1, 2):
        out = work / f"chunk-{threads}"
        job = LadderJob(source, out, info, renditions, threads=threads)
        rates[f"chunk_{threads}t"] = info.duration_s / _timed(lambda job=job: chunks.encode_chunk(job, chunk))
        shutil.rmtree(out, ignore_errors=True)
    rates["audio"] = info.duration_s / _timed(
        lambda: chunks.encode_audio(source, work / "audio", info.duration_s)
    )

    def pictures() -> None:  # the storyboard as for an hour: tiles >= KEYFRAME_TILES_S apart, keyframes only
        make_poster(source, info, work / "poster.jpg")
        tiles = max(1, int(info.duration_s // KEYFRAME_TILES_S))
        make_storyboard(source, info, work / "sb.jpg", work / "sb.vtt", "sb.jpg", max_tiles=tiles)

    rates["pictures"] = info.duration_s / _timed(pictures)
    return rates


def simulate(hours: float, rates: dict[str, float], efficiency: float | None = None) -> dict[str, float]:
    video_s = hours * 3600
    if efficiency is None:
        efficiency = min(1.0, rates["chunk_2t"] / (2 * rates["chunk_1t"]))
    chunk_rate = rates["chunk_1t"] * LAMBDA_VCPUS * efficiency
    plan = chunks.plan(video_s, CHUNK_S)
    ladder_mbps = 5.0 + 2.8 + 1.4 + 0.8 + 0.4  # the caps: what a hard picture costs at most
    durations = []
    for c in plan:
        read_s = c.duration_s * SOURCE_MBPS / 8 / S3_MB_S  # streamed as it encodes: only the excess counts
        encode_s = c.duration_s / chunk_rate
        upload_s = c.duration_s * ladder_mbps / 8 / S3_MB_S
        durations.append(COLD_START_S + max(encode_s, read_s) + upload_s)
    # the Map: MaxConcurrency chunks at a time, each next one starting when a slot frees
    slots = [0.0] * min(max_concurrency(), len(durations))
    heapq.heapify(slots)
    end = 0.0
    for d in durations:
        start = heapq.heappop(slots)
        end = max(end, start + d)
        heapq.heappush(slots, start + d)
    source_read_s = video_s * SOURCE_MBPS / 8 / S3_MB_S
    scale = LAMBDA_VCPUS * efficiency
    audio_s = max(source_read_s, video_s / (rates["audio"] * scale))
    pictures_s = max(source_read_s, video_s / (rates["pictures"] * scale))
    finish_s = COLD_START_S + audio_s + pictures_s
    ready = PLAN_S + end + finish_s
    gb_s = MEMORY_GB * (PLAN_S + sum(durations) + finish_s)
    return {
        "chunks": len(plan),
        "efficiency": efficiency,
        "chunk_rate": chunk_rate,
        "map_s": end,
        "slowest_chunk_s": max(durations),
        "finish_s": finish_s,
        "audio_s": audio_s,
        "pictures_s": pictures_s,
        "ready_s": ready,
        "gb_s": gb_s,
        "usd_per_minute": gb_s * PRICE_PER_GB_S / (video_s / 60),
        "gb_s_per_minute": gb_s / (video_s / 60),
    }


def run(
    seconds: float = 8, hours: float = 1, load_factor: float = 1.0, efficiency: float | None = None
) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-model-") as tmp:
        rates = {k: v * load_factor for k, v in measure(seconds, Path(tmp)).items()}
    if load_factor != 1.0:
        print(
            f"  (measured rates multiplied by {load_factor:g}: how much slower this machine ran a known "
            "encode than on a quiet run)"
        )
    print(
        f"transcode model: a {hours:g} h 1080p {SOURCE_MBPS:g} Mbps source on Lambda at {MEMORY_GB * 1024} MB "
        f"({LAMBDA_VCPUS} vCPUs), {CHUNK_S:.0f} s chunks, Map MaxConcurrency {max_concurrency()}"
    )
    print(
        f"  measured here ({seconds:g} s 1080p clip, x realtime): chunk encode 1 thread {rates['chunk_1t']:.2f}, "
        f"2 threads {rates['chunk_2t']:.2f}; audio pass {rates['audio']:.1f}; poster + storyboard "
        f"{rates['pictures']:.2f}"
    )
    m = simulate(hours, rates, efficiency)
    print(
        f"  model: {m['chunks']:.0f} chunks at {m['chunk_rate']:.2f}x realtime each (2-thread efficiency "
        f"{m['efficiency']:.2f} carried to 6), slowest chunk {m['slowest_chunk_s']:.0f} s, the Map "
        f"{m['map_s']:.0f} s; Finish {m['finish_s']:.0f} s (audio pass {m['audio_s']:.0f} s, pictures "
        f"{m['pictures_s']:.0f} s)"
    )
    goal = "met" if m["ready_s"] < 300 else "NOT met"
    print(f"  upload complete to ready: {m['ready_s'] / 60:.1f} min (goal < 5 min: {goal})")
    print(
        f"  upload complete to playable: {m['ready_s'] / 60:.1f} min: the chunked path is playable only once "
        "ready (goal < 1 min: NOT met)"
    )
    print(
        f"  cost: {m['gb_s']:.0f} GB-s, {m['gb_s_per_minute']:.0f} GB-s per video minute, "
        f"USD {m['usd_per_minute']:.4f} per video minute (arm64, us-east-1, USD {PRICE_PER_GB_S} per GB-s)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=12)
    parser.add_argument("--hours", type=float, default=1)
    parser.add_argument(
        "--load-factor", type=float, default=1.0, help="scale measured rates (a loaded machine)"
    )
    parser.add_argument(
        "--efficiency", type=float, default=None, help="thread scaling to 6 vCPUs, else measured"
    )
    args = parser.parse_args()
    run(args.seconds, args.hours, args.load_factor, args.efficiency)
