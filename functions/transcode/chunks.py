"""Long sources: encode time ranges in parallel, then stitch, and still play gaplessly.

- Video: each chunk seeks frame-accurately into the source (`-ss` before `-i` decodes from the previous
  keyframe and drops what comes before), encodes the same ladder video-only, and offsets its output
  timestamps to where it starts, so chunk N's first frame follows chunk N-1's last one exactly.
  Chunk lengths are whole segments, so every segment is whole and numbered by its place in the video.
- Audio: encoded ONCE for the whole source as its own HLS rendition. Encoding AAC per chunk would
  insert the encoder's priming samples at every boundary (an audible pop); one pass has no boundaries.
  A silent source has no audio rendition.
- Stitch: each rendition's chunk playlists are concatenated into one media playlist; the master names
  the audio group (EXT-X-MEDIA) on every variant, or, for a silent source, is the whole-file path's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import m3u8

from functions.transcode.encoder import LadderJob, Progress, ShouldStop, ffmpeg, run_ffmpeg, source_input
from functions.transcode.ladder import SEGMENT_S, Rendition
from functions.transcode.playlists import AUDIO_GROUP, VariantStats, variant_stats, write_master_playlist

AUDIO_KBPS = 128


@dataclass(frozen=True)
class Chunk:
    index: int
    start_s: float
    duration_s: float

    @property
    def first_segment(self) -> int:
        return round(self.start_s / SEGMENT_S)

    @property
    def playlist(self) -> str:
        return f"chunk_{self.index:04d}.m3u8"


def plan(duration_s: float, chunk_s: float) -> list[Chunk]:
    """Chunks of `chunk_s` (rounded up to whole segments), the last one taking what is left."""
    length = max(SEGMENT_S, math.ceil(chunk_s / SEGMENT_S) * SEGMENT_S)
    count = max(1, math.ceil(duration_s / length - 1e-9))
    return [Chunk(i, i * length, min(length, duration_s - i * length)) for i in range(count)]


# Every chunk and the audio pass shift their timestamps by the same constant: no stream then starts with
# a negative decode time (B-frames, AAC priming), which the muxer would "fix" by moving that one file
# alone, so all pieces share one timeline and audio stays in sync with video.
TIMELINE_OFFSET_S = 1.0


def chunk_command(job: LadderJob, chunk: Chunk) -> list[str]:
    """The one-process ladder command, restricted to one chunk's time range, video only."""
    base = _without_audio(job.command())
    inputs = base.index("-i")
    out = base.index("-f")
    seek = ["-ss", f"{chunk.start_s:.3f}"] if chunk.start_s else []  # a seek restarts timestamps at zero
    command = [
        *base[:inputs],
        *seek,
        "-t",
        f"{chunk.duration_s:.3f}",
        *base[inputs:out],
        "-an",
        "-output_ts_offset",
        f"{chunk.start_s + TIMELINE_OFFSET_S:.6f}",
        "-start_number",
        str(chunk.first_segment),
        *base[out:],
    ]
    command[-1] = str(job.out_dir / "%v" / chunk.playlist)
    return command


def _without_audio(command: list[str]) -> list[str]:
    kept: list[str] = []
    skip = 0
    for i, part in enumerate(command):
        if skip:
            skip -= 1
            continue
        if part == "-map" and command[i + 1] == "0:a:0":
            skip = 1
            continue
        if part.startswith(("-c:a:", "-b:a:", "-ac:a:", "-ar:a:")):
            skip = 1
            continue
        if part == "-var_stream_map":
            kept += [part, " ".join(s.split(",")[0] + "," + s.split(",")[-1] for s in command[i + 1].split())]
            skip = 1
            continue
        kept.append(part)
    return kept


def encode_chunk(
    job: LadderJob, chunk: Chunk, should_stop: ShouldStop | None = None, on_progress: Progress | None = None
) -> None:
    """`on_progress` gets the fraction of this chunk done."""
    for r in job.renditions:
        (job.out_dir / r.name).mkdir(parents=True, exist_ok=True)
    run_ffmpeg(chunk_command(job, chunk), chunk.duration_s, on_progress, should_stop)


def encode_audio(
    source: Path | str,
    out_dir: Path,
    duration_s: float,
    on_progress: Progress | None = None,
    should_stop: ShouldStop | None = None,
) -> None:
    """The source's first audio stream as one AAC HLS rendition. Only for a source that has audio."""
    (out_dir / AUDIO_GROUP).mkdir(parents=True, exist_ok=True)
    command = [
        *ffmpeg(),
        *source_input(source),
        "-vn",
        "-map",
        "0:a:0",
        "-c:a",
        "aac",
        "-b:a",
        f"{AUDIO_KBPS}k",
        "-ac",
        "2",
        "-ar",
        "48000",
        "-output_ts_offset",
        f"{TIMELINE_OFFSET_S:.6f}",  # the video chunks' shift: one timeline
        "-f",
        "hls",
        "-hls_time",
        str(SEGMENT_S),
        "-hls_playlist_type",
        "vod",
        "-hls_segment_type",
        "mpegts",
        "-hls_segment_filename",
        str(out_dir / AUDIO_GROUP / "seg_%05d.ts"),
        "-progress",
        "pipe:1",  # progress lines are also when run_ffmpeg checks should_stop
        "-stats_period",
        "1",
        str(out_dir / AUDIO_GROUP / "index.m3u8"),
    ]
    run_ffmpeg(command, duration_s, on_progress, should_stop)


def stitch(out_dir: Path, renditions: list[Rendition], chunks: list[Chunk]) -> None:
    """One VOD media playlist per rendition from its chunks' playlists on disk, in order."""
    for r in renditions:
        texts = [(out_dir / r.name / chunk.playlist).read_text() for chunk in chunks]
        (out_dir / r.name / "index.m3u8").write_text(join_playlists(texts)[0])
        for chunk in chunks:
            (out_dir / r.name / chunk.playlist).unlink()


def write_master_with_audio(
    out_dir: Path, video: list[VariantStats], audio: VariantStats | None, fps: float
) -> None:
    """Video variants that all point at the one audio rendition (demuxed audio, RFC 8216 4.3.4.1); with
    no audio (a silent source), plain video variants."""
    write_master_playlist(out_dir, video, fps, audio)


def audio_stats(out_dir: Path) -> VariantStats:
    return variant_stats(out_dir, Rendition(AUDIO_GROUP, 0, 0, 0, AUDIO_KBPS))


def local_video_stats(out_dir: Path, renditions: list[Rendition]) -> list[VariantStats]:
    return [variant_stats(out_dir, r) for r in renditions]


def join_playlists(chunk_playlists: list[str]) -> tuple[str, list[tuple[float, str]]]:
    """One VOD media playlist from a rendition's chunk playlists (their text), and its segments."""
    segments: list[tuple[float, str]] = []
    for text in chunk_playlists:
        segments += [(float(seg.duration), str(seg.uri)) for seg in m3u8.loads(text).segments]
    target = math.ceil(max(d for d, _ in segments))
    lines = [
        "#EXTM3U",
        "#EXT-X-VERSION:6",
        f"#EXT-X-TARGETDURATION:{target}",
        "#EXT-X-MEDIA-SEQUENCE:0",
        "#EXT-X-PLAYLIST-TYPE:VOD",
        "#EXT-X-INDEPENDENT-SEGMENTS",
    ]
    for duration, uri in segments:
        lines += [f"#EXTINF:{duration:.6f},", uri]
    lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n", segments
