"""The master playlist, written from what was actually encoded: BANDWIDTH is the peak segment bitrate,
AVERAGE-BANDWIDTH the mean, CODECS read from the first segment's streams (RFC 8216 4.3.4.2)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av
import m3u8

from functions.transcode.ladder import Rendition

_PROFILE_IDC = {
    "Baseline": (0x42, 0x00),
    "Constrained Baseline": (0x42, 0xE0),
    "Main": (0x4D, 0x00),
    "High": (0x64, 0x00),
}


@dataclass(frozen=True)
class VariantStats:
    rendition: Rendition
    peak_bps: int
    average_bps: int
    codecs: str
    duration_s: float


def _codecs(segment: Path) -> str:
    # our own segment: read as what it is (MPEG-TS), from the local file only
    with av.open(str(segment), format="mpegts", options={"protocol_whitelist": "file"}) as container:
        if not container.streams.video:  # an audio rendition
            return "mp4a.40.2"
        video = container.streams.video[0].codec_context
        profile, constraints = _PROFILE_IDC.get(str(video.profile), (0x64, 0x00))
        codecs = [f"avc1.{profile:02x}{constraints:02x}{int(video.level or 31):02x}"]
        if container.streams.audio:
            codecs.append("mp4a.40.2")  # AAC-LC, what the encoder writes
    return ",".join(codecs)


def stats_from_segments(rendition: Rendition, segments: list[tuple[float, int]], codecs: str) -> VariantStats:
    """Peak and average bitrate from (duration s, size bytes) per segment."""
    rates = [size * 8 / duration for duration, size in segments if duration > 0]
    total_s = sum(duration for duration, _ in segments)
    if not rates or total_s <= 0:
        raise ValueError(f"{rendition.name}: no segments")
    return VariantStats(
        rendition, int(max(rates)), int(sum(size for _, size in segments) * 8 / total_s), codecs, total_s
    )


def codecs_of(segment: Path) -> str:
    return _codecs(segment)


def variant_stats(out_dir: Path, rendition: Rendition) -> VariantStats:
    playlist = m3u8.load(str(out_dir / rendition.name / "index.m3u8"))
    rates, total_bits, total_s = [], 0, 0.0
    for segment in playlist.segments:
        size_bits = (out_dir / rendition.name / str(segment.uri)).stat().st_size * 8
        duration = float(segment.duration or 0)
        total_bits += size_bits
        total_s += duration
        if duration > 0:
            rates.append(size_bits / duration)
    if not playlist.segments or total_s <= 0:
        raise ValueError(f"{rendition.name}: the encoder wrote no segments")
    first = out_dir / rendition.name / str(playlist.segments[0].uri)
    return VariantStats(rendition, int(max(rates)), int(total_bits / total_s), _codecs(first), total_s)


def write_master(out_dir: Path, renditions: list[Rendition], fps: float) -> list[VariantStats]:
    stats = [variant_stats(out_dir, r) for r in renditions]
    write_master_playlist(out_dir, stats, fps)
    return stats


AUDIO_GROUP = "audio"


def write_master_playlist(
    out_dir: Path, video: list[VariantStats], fps: float, audio: VariantStats | None = None
) -> None:
    """The master playlist, highest bandwidth first. With `audio`, the variants are video only and all
    name that one audio rendition (demuxed audio, RFC 8216 4.3.4.1); without it, each variant carries
    whatever its segments hold (muxed audio, or none for a silent source)."""
    lines = ["#EXTM3U", "#EXT-X-VERSION:6", "#EXT-X-INDEPENDENT-SEGMENTS"]
    if audio is not None:
        lines.append(
            f'#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="{AUDIO_GROUP}",NAME="Main",DEFAULT=YES,AUTOSELECT=YES,'
            f'CHANNELS="2",URI="{AUDIO_GROUP}/index.m3u8"'
        )
    for s in sorted(video, key=lambda v: v.peak_bps, reverse=True):
        r = s.rendition
        peak, average, codecs, group = s.peak_bps, s.average_bps, s.codecs, ""
        if audio is not None:
            peak, average = peak + audio.peak_bps, average + audio.average_bps
            codecs, group = f"{codecs},{audio.codecs}", f',AUDIO="{AUDIO_GROUP}"'
        lines.append(
            f"#EXT-X-STREAM-INF:BANDWIDTH={peak},AVERAGE-BANDWIDTH={average},"
            f'RESOLUTION={r.width}x{r.height},CODECS="{codecs}",FRAME-RATE={fps:.3f}{group}'
        )
        lines.append(f"{r.name}/index.m3u8")
    (out_dir / "master.m3u8").write_text("\n".join(lines) + "\n")
