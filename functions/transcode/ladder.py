"""The adaptive ladder for a source: which renditions, at what size and bitrate. Pure."""

from __future__ import annotations

from dataclasses import dataclass

from functions.transcode.probe import SourceInfo

SEGMENT_S = 4  # 4 s segments: HLS's recommended 2-6 s, few requests, quick start


@dataclass(frozen=True)
class Rung:
    name: str  # "720p"
    height: int  # the short side for portrait sources is `height` of the rung's landscape twin
    video_kbps: int  # the cap (VBV maxrate): what a hard picture gets
    crf: int  # the quality aimed at (capped CRF, encoder.rate_control): what an easy one gets
    audio_kbps: int = 128


# H.264 at veryfast: caps a little above Apple's HLS authoring spec to make up for the fast preset. The CRF
# is lower on smaller rungs: upscaled to the screen, their artefacts show more (bench/transcode_quality.py).
RUNGS = (
    Rung("1080p", 1080, 5000, 19),
    Rung("720p", 720, 2800, 18),
    Rung("480p", 480, 1400, 17),
    Rung("360p", 360, 800, 16),
    Rung("240p", 240, 400, 15, 64),
)
DEFAULT_CRF = 19


@dataclass(frozen=True)
class Rendition:
    name: str
    width: int
    height: int
    video_kbps: int
    audio_kbps: int
    crf: int = DEFAULT_CRF  # a plan from before capped CRF (the workflow state) has none


def _even(value: float) -> int:
    return max(2, round(value / 2) * 2)


def ladder(source: SourceInfo, max_rungs: int = len(RUNGS)) -> list[Rendition]:
    """Up to `max_rungs` renditions (by default every rung the source reaches, so a 1080p source gets all
    five, 240p included, for slow connections), largest first; never above the source, aspect kept, even
    sizes.

    A rung's size is its short side (1080p is 1920x1080 landscape, 1080x1920 portrait), so a phone video
    gets the same ladder as a landscape one.
    """
    short_side = min(source.width, source.height)
    chosen = [r for r in RUNGS if r.height <= short_side][:max_rungs]
    if not chosen:  # smaller than the smallest rung: one rendition at the source's own size
        chosen = [Rung(f"{_even(short_side)}p", _even(short_side), 300, 15, 64)]
    renditions = []
    for rung in chosen:
        scale = rung.height / short_side
        width, height = _even(source.width * scale), _even(source.height * scale)
        renditions.append(Rendition(rung.name, width, height, rung.video_kbps, rung.audio_kbps, rung.crf))
    return renditions
