"""The HLS ladder from ONE decode in ONE FFmpeg process (split filter + var_stream_map), a poster and a
storyboard. Simpler platforms run one FFmpeg per rendition and decode the source once per rung; the
decode is the expensive part of a high-bitrate source, so we do it once.

Keyframes are forced every SEGMENT_S seconds with scene-cut keyframes off (a closed GOP the length of
a segment), so every rendition's segments start on the same frames and a player can switch cleanly.
"""

from __future__ import annotations

import functools
import math
import os
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from functions.transcode.ladder import SEGMENT_S, Rendition
from functions.transcode.probe import FORMAT_WHITELIST, PROTOCOL_WHITELIST, URL_PROTOCOL_WHITELIST, SourceInfo

Progress = Callable[[float], None]  # fraction done, 0..1
ShouldStop = Callable[[], bool]


class EncodeError(Exception):
    pass


class EncodeCancelled(Exception):  # noqa: N818 - reads as what happened
    pass


@functools.cache
def ffmpeg_exe() -> str:
    """The FFmpeg to run: $FFMPEG (the container image's static build), else the one pip installed."""
    configured = os.environ.get("FFMPEG")
    if configured:
        return configured
    import imageio_ffmpeg

    return str(imageio_ffmpeg.get_ffmpeg_exe())


def ffmpeg(*args: str) -> list[str]:
    """An FFmpeg command line with the options every run here shares: quiet, non-interactive, overwriting."""
    return [ffmpeg_exe(), "-hide_banner", "-nostdin", "-y", "-loglevel", "error", *args]


Source = Path | str  # a local file, or the presigned GET URL of the upload (read while it downloads)


def is_url(source: Source) -> bool:
    return isinstance(source, str) and source.startswith(("http://", "https://"))


def source_input(source: Source) -> list[str]:
    """`-i source`, opened only as one of the video containers we accept (functions/transcode/probe.py
    FORMAT_WHITELIST) and only as a local file, or, for the presigned URL of the upload we generate, over
    HTTP(S) and nothing else: the same rule as the probe's, for every FFmpeg run. No demuxer on the list
    opens further files or URLs (the mov demuxer's external references are off by default)."""
    remote = ["-reconnect", "1", "-reconnect_on_network_error", "1"] if is_url(source) else []
    return [
        *remote,
        "-protocol_whitelist",
        URL_PROTOCOL_WHITELIST if is_url(source) else PROTOCOL_WHITELIST,
        "-format_whitelist",
        FORMAT_WHITELIST,
        "-i",
        str(source),
    ]


# Capped CRF (what MediaConvert's QVBR does): each rung aims at a constant quality and spends only what the
# picture needs, never more than the rung's bitrate over any 2 s (the VBV cap): a slide deck costs a fraction
# of a football match, which still gets the rung's full bitrate. bench/transcode_quality.py measures it
# (VMAF and bytes per rung) against the fixed bitrates this replaced; the CRF per rung is in ladder.py.


def rate_control(i: int, r: Rendition) -> list[str]:
    """Rendition `i`'s video encoder: x264 veryfast, High profile, capped CRF."""
    return [
        f"-c:v:{i}",
        "libx264",
        f"-preset:v:{i}",
        "veryfast",
        f"-profile:v:{i}",
        "high",
        f"-crf:v:{i}",
        str(r.crf),
        f"-maxrate:v:{i}",
        f"{r.video_kbps}k",
        f"-bufsize:v:{i}",
        f"{r.video_kbps * 2}k",
        # start with the VBV buffer half full, not 90%: no burst above the cap at the start of a short video
        f"-x264-params:v:{i}",
        "vbv-init=0.5",
    ]


@dataclass(frozen=True)
class LadderJob:
    source: Source
    out_dir: Path
    info: SourceInfo
    renditions: tuple[Rendition, ...]
    threads: int = 0  # 0: FFmpeg decides (all cores)
    # EVENT playlists rewritten after every segment (a player can start while the encode goes on), each
    # playlist and segment renamed into place only when whole; else VOD playlists written at the end.
    live: bool = False
    # poster.jpg and storyboard.jpg as two more outputs of the same decode (no second read of the source)
    pictures: bool = False
    rate: Callable[[int, Rendition], list[str]] = rate_control  # each rendition's encoder options

    def command(self) -> list[str]:
        n = len(self.renditions)
        gop = max(1, round(self.info.fps * SEGMENT_S))
        branches = n + (2 if self.pictures else 0)
        splits = "".join(f"[s{i}]" for i in range(branches))
        graph = [f"[0:v]split={branches}{splits}"] + [
            f"[s{i}]scale={r.width}:{r.height}:flags=bicubic,setsar=1,format=yuv420p[v{i}]"
            for i, r in enumerate(self.renditions)
        ]
        if self.pictures:
            poster, board = poster_plan(self.info), storyboard_plan(self.info)
            graph += [
                f"[s{n}]trim=start={poster[0]:.3f},scale=-2:{poster[1]}[poster]",
                f"[s{n + 1}]fps=1/{board.interval_s:.3f},scale={board.tile_width}:{board.tile_height},"
                f"tile={board.columns}x{board.rows}[board]",
            ]
        cmd = [
            *ffmpeg(),
            "-threads",
            str(self.threads),
            *source_input(self.source),
            "-filter_complex",
            ";".join(graph),
        ]
        for i, r in enumerate(self.renditions):
            cmd += ["-map", f"[v{i}]", *self.rate(i, r)]
        cmd += [
            "-g",
            str(gop),
            "-keyint_min",
            str(gop),
            "-sc_threshold",
            "0",
            "-force_key_frames",
            f"expr:gte(t,n_forced*{SEGMENT_S})",
        ]
        if self.info.has_audio:
            for i, r in enumerate(self.renditions):
                cmd += [
                    "-map",
                    "0:a:0",
                    f"-c:a:{i}",
                    "aac",
                    f"-b:a:{i}",
                    f"{r.audio_kbps}k",
                    f"-ac:a:{i}",
                    "2",
                    f"-ar:a:{i}",
                    "48000",
                ]
        streams = " ".join(
            f"v:{i}" + (f",a:{i}" if self.info.has_audio else "") + f",name:{r.name}"
            for i, r in enumerate(self.renditions)
        )
        playlist = ["event", "-hls_list_size", "0"] if self.live else ["vod"]
        flags = "independent_segments+temp_file" if self.live else "independent_segments"
        cmd += [
            "-f",
            "hls",
            "-hls_time",
            str(SEGMENT_S),
            "-hls_playlist_type",
            *playlist,
            "-hls_flags",
            flags,
            "-hls_segment_type",
            "mpegts",
            "-hls_segment_filename",
            str(self.out_dir / "%v" / "seg_%05d.ts"),
            "-var_stream_map",
            streams,
            "-progress",
            "pipe:1",
            "-stats_period",
            "1",
            str(self.out_dir / "%v" / "index.m3u8"),
        ]
        if self.pictures:
            picture = ["-frames:v", "1", "-update", "1"]
            cmd += ["-map", "[poster]", *picture, "-q:v", "3", str(self.out_dir / "poster.jpg")]
            cmd += ["-map", "[board]", *picture, "-q:v", "5", str(self.out_dir / "storyboard.jpg")]
        return cmd


def run_ffmpeg(
    command: list[str],
    duration_s: float,
    on_progress: Progress | None = None,
    should_stop: ShouldStop | None = None,
    stop_check_s: float = 2.0,
) -> None:
    """Run FFmpeg, reading its `-progress` key=value stream; kill it if `should_stop` says so."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # noqa: S603
    stderr: list[str] = []
    drain = threading.Thread(target=lambda: stderr.extend(process.stderr or []), daemon=True)
    drain.start()
    last_check = time.monotonic()
    assert process.stdout is not None
    for line in process.stdout:
        key, _, value = line.strip().partition("=")
        if key == "out_time_us" and value.isdigit() and on_progress and duration_s > 0:
            on_progress(min(1.0, int(value) / 1e6 / duration_s))
        if should_stop and time.monotonic() - last_check >= stop_check_s:
            last_check = time.monotonic()
            if should_stop():
                process.kill()
                process.wait()
                raise EncodeCancelled
    code = process.wait()
    drain.join(timeout=5)
    if code != 0:
        raise EncodeError(f"FFmpeg exited with {code}: {''.join(stderr)[-2000:]}")


def encode_ladder(
    job: LadderJob, on_progress: Progress | None = None, should_stop: ShouldStop | None = None
) -> None:
    for r in job.renditions:
        (job.out_dir / r.name).mkdir(parents=True, exist_ok=True)
    run_ffmpeg(job.command(), job.info.duration_s, on_progress, should_stop)


def poster_plan(info: SourceInfo, height: int = 720) -> tuple[float, int]:
    """Where the poster is taken (a third of the way in, or at 1 s, whichever is earlier) and its height."""
    height = min(height, min(info.width, info.height) if info.portrait else info.height)
    return min(1.0, info.duration_s / 3), height - height % 2


def make_poster(source: Source, info: SourceInfo, target: Path, height: int = 720) -> None:
    at, height = poster_plan(info, height)
    run_ffmpeg(
        [
            *ffmpeg(),
            "-ss",
            f"{at:.3f}",
            *source_input(source),
            "-frames:v",
            "1",
            "-vf",
            f"scale=-2:{height}",
            "-q:v",
            "3",
            str(target),
        ],
        0,
    )


@dataclass(frozen=True)
class Storyboard:
    interval_s: float
    columns: int
    rows: int
    tile_width: int
    tile_height: int
    count: int


def storyboard_plan(info: SourceInfo, max_tiles: int = 100, tile_width: int = 160) -> Storyboard:
    """Up to `max_tiles` tiles `tile_width` wide, one every `interval_s` (at least 1 s), 10 a row."""
    interval = max(1.0, info.duration_s / max_tiles)
    count = max(1, math.ceil(info.duration_s / interval))
    columns = min(10, count)
    tile_height = max(2, round(tile_width * info.height / info.width / 2) * 2)
    return Storyboard(interval, columns, math.ceil(count / columns), tile_width, tile_height, count)


KEYFRAME_TILES_S = 10.0


def make_storyboard(
    source: Source,
    info: SourceInfo,
    sprite: Path,
    vtt: Path,
    sprite_url: str,
    max_tiles: int = 100,
    tile_width: int = 160,
) -> Storyboard:
    """A sprite sheet of thumbnails and the WebVTT that maps time ranges to tiles (`#xywh=`), from a
    second pass over the source (the chunked path's Finish; the whole-file encode makes it from its own
    decode)."""
    board = storyboard_plan(info, max_tiles, tile_width)
    run_ffmpeg(
        [
            *ffmpeg(),
            # A long source (tiles at least KEYFRAME_TILES_S apart): keyframes only, each tile the last
            # keyframe before its time; the chunked Finish would otherwise decode every frame of the hour
            # for 100 thumbnails. A short one is cheap to decode whole, and may have a single keyframe.
            *(["-skip_frame", "nokey"] if board.interval_s >= KEYFRAME_TILES_S else []),
            *source_input(source),
            "-vf",
            # full-range YUV said outright: from a single keyframe FFmpeg opens the JPEG encoder with the
            # decoder's limited range, which it refuses
            f"fps=1/{board.interval_s:.3f},scale={board.tile_width}:{board.tile_height},format=yuvj420p,"
            f"tile={board.columns}x{board.rows}",
            "-frames:v",
            "1",
            "-q:v",
            "5",
            str(sprite),
        ],
        0,
    )
    vtt.write_text(storyboard_vtt(board, info.duration_s, sprite_url))
    return board


def _stamp(seconds: float) -> str:
    ms = round(seconds * 1000)  # whole milliseconds first, so .9996 s never prints as ".1000"
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d}.{ms % 1000:03d}"


def storyboard_vtt(board: Storyboard, duration_s: float, sprite_url: str) -> str:
    cues = ["WEBVTT", ""]
    for i in range(board.count):
        start, end = i * board.interval_s, min(duration_s, (i + 1) * board.interval_s)
        x, y = (i % board.columns) * board.tile_width, (i // board.columns) * board.tile_height
        cues += [
            f"{_stamp(start)} --> {_stamp(end)}",
            f"{sprite_url}#xywh={x},{y},{board.tile_width},{board.tile_height}",
            "",
        ]
    return "\n".join(cues)
