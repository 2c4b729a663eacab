"""Test videos made on the spot with FFmpeg's test sources: no media files in the repository."""

from __future__ import annotations

import subprocess
from pathlib import Path

from functions.transcode.encoder import ffmpeg


def make_clip(
    path: Path,
    size: str,
    seconds: float,
    *,
    fps: int = 25,
    audio: bool = True,
    rotate: int | None = None,
    gop: int | None = None,
    kbps: int | None = None,
) -> Path:
    """An H.264 (+ AAC) MP4 of `testsrc2` (+ a sine tone); with `rotate`, a copy flagged to be displayed
    rotated, as phones record portrait video."""
    args = ["-f", "lavfi", "-i", f"testsrc2=size={size}:rate={fps}:duration={seconds}"]
    if audio:
        args += ["-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}", "-c:a", "aac", "-shortest"]
    args += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
    if gop:
        args += ["-g", str(gop)]
    if kbps:  # a constant bitrate, like a camera's file; else x264's default quality
        args += ["-b:v", f"{kbps}k", "-maxrate", f"{kbps}k", "-bufsize", f"{2 * kbps}k"]
    subprocess.run([*ffmpeg(*args), str(path)], check=True)
    if rotate is None:
        return path
    rotated = path.with_name(f"rotated-{path.name}")
    subprocess.run(
        [*ffmpeg("-display_rotation", str(rotate), "-i", str(path), "-c", "copy"), str(rotated)], check=True
    )
    return rotated
