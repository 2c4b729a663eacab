"""Quality per bit: the ladder's rate control against today's fixed bitrates, per rung, in VMAF and bytes.

Two generated 1080p sources (`--seconds`, 6 s each, near-lossless so they serve as the reference):
- low motion: a slide deck / screen recording: a white page, a grid, blocks that build up every 1.5 s
  and a small moving picture in a corner;
- high motion: testsrc2 with film-grain-like noise changing every frame.

Each is encoded twice with the platform's one-process ladder command (`LadderJob`, video only), once with
the baseline rate control, today's ladder (`fixed_bitrate`: `-b:v` at the rung's bitrate, VBV
maxrate 1.1x, bufsize 2x), and once with the shipped one (`encoder.rate_control`: capped CRF). Each rung is
scored against the source with libvmaf (the rung scaled back to 1080p with bicubic, the usual way of
scoring a ladder; every `--subsample`th frame). Goals (issue 13): low motion >= 30% fewer bytes at VMAF
within 1 point; high motion no lower VMAF at no more bytes.

    python -m bench.transcode_quality [--seconds 6] [--subsample 3]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from pathlib import Path

from functions.transcode.encoder import LadderJob, ffmpeg, rate_control
from functions.transcode.ladder import Rendition, ladder
from functions.transcode.probe import probe

SIZE = "1920x1080"
FPS = 25


def fixed_bitrate(i: int, r: Rendition) -> list[str]:
    """Today's ladder (before issue 13): each rung at its bitrate, VBV maxrate 1.1x, bufsize 2x."""
    return [
        f"-c:v:{i}",
        "libx264",
        f"-preset:v:{i}",
        "veryfast",
        f"-profile:v:{i}",
        "high",
        f"-b:v:{i}",
        f"{r.video_kbps}k",
        f"-maxrate:v:{i}",
        f"{int(r.video_kbps * 1.1)}k",
        f"-bufsize:v:{i}",
        f"{r.video_kbps * 2}k",
    ]


def low_motion(seconds: float) -> str:
    boxes = ",".join(
        f"drawbox=x=160:y={180 + 110 * k}:w={1500 - 180 * (k % 3)}:h=44:c=0x203080:t=fill:"
        f"enable='gte(t,{1.5 * k})'"
        for k in range(6)
    )
    page = (
        f"color=c=white:s={SIZE}:r={FPS}:d={seconds},drawgrid=w=240:h=90:t=1:c=0xdddddd,"
        f"drawbox=x=120:y=60:w=1100:h=70:c=black:t=fill,{boxes}[page];"
        f"testsrc2=s=480x270:r={FPS}:d={seconds}[inset];[page][inset]overlay=x=1380:y=760"
    )
    return page


def high_motion(seconds: float) -> str:
    return f"testsrc2=s={SIZE}:r={FPS}:d={seconds},noise=alls=18:allf=t"


def make_source(graph: str, path: Path) -> Path:
    cmd = ffmpeg("-f", "lavfi", "-i", graph, "-c:v", "libx264", "-preset", "ultrafast", "-crf", "6")
    subprocess.run([*cmd, "-pix_fmt", "yuv420p", str(path)], check=True)
    return path


def encode(source: Path, out: Path, rate: object) -> list[Rendition]:
    info = probe(source)
    renditions = ladder(info)
    for r in renditions:
        (out / r.name).mkdir(parents=True, exist_ok=True)
    job = LadderJob(source, out, info, tuple(renditions), rate=rate)  # type: ignore[arg-type]
    subprocess.run(job.command(), check=True, stdout=subprocess.DEVNULL)
    return renditions


def vmaf(rung_playlist: Path, source: Path, subsample: int, log: Path) -> float:
    graph = (
        "[0:v]scale=1920:1080:flags=bicubic,setpts=PTS-STARTPTS[d];[1:v]setpts=PTS-STARTPTS[r];"
        f"[d][r]libvmaf=log_path={log}:log_fmt=json:n_subsample={subsample}:n_threads=2"
    )
    cmd = ffmpeg("-i", str(rung_playlist), "-i", str(source), "-lavfi", graph, "-f", "null", "-")
    subprocess.run(cmd, check=True)
    return float(json.loads(log.read_text())["pooled_metrics"]["vmaf"]["mean"])


def rung_bytes(out: Path, name: str) -> int:
    return sum(p.stat().st_size for p in (out / name).glob("*.ts"))


def run(seconds: float = 6, subsample: int = 3, sources: tuple[str, ...] = ("low", "high")) -> None:
    started = time.perf_counter()
    print(
        f"transcode quality: VMAF (libvmaf, every {subsample}th frame, rungs scaled to 1080p) and bytes per "
        f"rung, {seconds:.0f} s 1080p sources; baseline: today's fixed-bitrate ladder, same command otherwise"
    )
    with tempfile.TemporaryDirectory(prefix="bench-quality-") as tmp:
        work = Path(tmp)
        for name, graph in (("low motion", low_motion(seconds)), ("high motion", high_motion(seconds))):
            if name.split()[0] not in sources:
                continue
            source = make_source(graph, work / f"{name.replace(' ', '-')}.mp4")
            results: dict[str, dict[str, tuple[int, float]]] = {}
            for ladder_name, rate in (("fixed", fixed_bitrate), ("capped CRF", rate_control)):
                out = work / f"{name}-{ladder_name}".replace(" ", "-")
                renditions = encode(source, out, rate)
                results[ladder_name] = {
                    r.name: (
                        rung_bytes(out, r.name),
                        vmaf(out / r.name / "index.m3u8", source, subsample, out / f"{r.name}.json"),
                    )
                    for r in renditions
                }
            print(f"  {name}:")
            total = {k: sum(b for b, _ in v.values()) for k, v in results.items()}
            for rung, (fixed_b, fixed_v) in results["fixed"].items():
                crf_b, crf_v = results["capped CRF"][rung]
                print(
                    f"    {rung:>5}: fixed {fixed_b / 1024:8.0f} KiB VMAF {fixed_v:5.1f} | capped CRF "
                    f"{crf_b / 1024:8.0f} KiB VMAF {crf_v:5.1f} | bytes {crf_b / fixed_b:5.2f}x, "
                    f"VMAF {crf_v - fixed_v:+5.1f}"
                )
            print(
                f"    all rungs: capped CRF {total['capped CRF'] / 1024:.0f} KiB vs fixed {total['fixed'] / 1024:.0f}"
                f" KiB: {total['capped CRF'] / total['fixed']:.2f}x baseline bytes"
            )
    print(f"  (ran in {time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=6)
    parser.add_argument("--subsample", type=int, default=3)
    parser.add_argument("--sources", default="low,high", help="low, high or both")
    args = parser.parse_args()
    run(args.seconds, args.subsample, tuple(args.sources.split(",")))
