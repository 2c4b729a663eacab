"""What a source is, read with PyAV (no ffprobe binary needed): or why it cannot be played."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av

MAX_DURATION_S = 4 * 3600

# The FFmpeg demuxers of the containers an upload may declare (functions/videos/uploads.py VIDEO_TYPES).
# Only these may open a source, and only from a local file: a playlist (hls), a script (concat), an image
# sequence or any other format that names further files or URLs is refused before it reads what it names.
# Left to itself FFmpeg picks the demuxer from the content, so an "mp4" could be an HLS playlist that
# makes the transcoder read (and publish) /etc/passwd or an internal URL.
DEMUXERS = {
    "video/mp4": "mov",
    "video/quicktime": "mov",
    "video/x-m4v": "mov",
    "video/3gpp": "mov",
    "video/webm": "matroska",
    "video/x-matroska": "matroska",
    "video/x-msvideo": "avi",
    "video/mpeg": "mpeg,mpegvideo",
    "video/ogg": "ogg",
    "video/mp2t": "mpegts",
}
FORMAT_WHITELIST = ",".join(sorted({name for names in DEMUXERS.values() for name in names.split(",")}))
PROTOCOL_WHITELIST = "file"
# The upload itself, read by FFmpeg through a presigned GET URL while it downloads (no copy to disk first).
URL_PROTOCOL_WHITELIST = "http,https,tcp,tls"
# For every open of a source, PyAV's and FFmpeg's alike (functions/transcode/encoder.py source_input).
SOURCE_OPTIONS = {"protocol_whitelist": PROTOCOL_WHITELIST, "format_whitelist": FORMAT_WHITELIST}
NOT_A_VIDEO = "This is not a video file we can read."
NOT_A_CONTAINER_WE_ACCEPT = (
    "This is not a video file we can read: only video containers are accepted "
    "(MP4, MOV, 3GP, WebM, Matroska, AVI, MPEG, MPEG-TS, Ogg)."
)


class UnplayableSourceError(Exception):
    """The reason is shown to the video's owner, so it is written for them."""


@dataclass(frozen=True)
class SourceInfo:
    duration_s: float
    width: int  # as displayed: after rotation
    height: int
    rotation: int  # degrees, as the container asks players to rotate
    fps: float
    has_audio: bool
    video_codec: str
    bitrate: int | None  # bits per second of the whole file, when known

    @property
    def portrait(self) -> bool:
        return self.height > self.width


def probe(path: Path | str, max_duration_s: float = MAX_DURATION_S, size: int | None = None) -> SourceInfo:
    """`path`: a local file, or the presigned GET URL of the upload (then `size` is its size in bytes)."""
    remote = isinstance(path, str) and path.startswith(("http://", "https://"))
    if (size if remote else Path(path).stat().st_size) == 0:
        raise UnplayableSourceError("The file is empty.")
    options = (
        {**SOURCE_OPTIONS, "protocol_whitelist": URL_PROTOCOL_WHITELIST} if remote else dict(SOURCE_OPTIONS)
    )
    try:
        container = av.open(str(path), options=options)
    except av.error.ArgumentError:
        # FFmpeg recognised the content, as a format that is not on the whitelist (EINVAL)
        raise UnplayableSourceError(NOT_A_CONTAINER_WE_ACCEPT) from None
    except (av.error.FFmpegError, UnicodeDecodeError):
        raise UnplayableSourceError(NOT_A_VIDEO) from None
    with container:
        if not container.streams.video:
            raise UnplayableSourceError("The file has no video stream.")
        stream = container.streams.video[0]
        duration = _duration(container, stream)
        if duration <= 0:
            raise UnplayableSourceError("The video has no duration: it may be truncated.")
        if duration > max_duration_s:
            raise UnplayableSourceError(
                f"The video is longer than the {max_duration_s / 60:.0f}-minute limit."
            )
        rotation = _first_frame_rotation(container)
        width, height = stream.codec_context.width, stream.codec_context.height
        if not width or not height:
            raise UnplayableSourceError("The video stream has no picture size.")
        if rotation % 180:
            width, height = height, width
        rate = stream.average_rate or stream.guessed_rate or Fraction(30)
        return SourceInfo(
            duration_s=duration,
            width=width,
            height=height,
            rotation=rotation,
            fps=float(rate),
            has_audio=bool(container.streams.audio),
            video_codec=stream.codec_context.name,
            bitrate=container.bit_rate or None,
        )


def _duration(container: av.container.InputContainer, stream: av.video.stream.VideoStream) -> float:
    if container.duration:
        return container.duration / av.time_base
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    return 0.0


def _first_frame_rotation(container: av.container.InputContainer) -> int:
    """The display rotation (PyAV reads it from the frame's display matrix). A file whose first frame
    will not decode is not playable."""
    try:
        frame = next(container.decode(video=0))
    except (StopIteration, av.error.FFmpegError):
        raise UnplayableSourceError("The video stream cannot be decoded: the file may be corrupt.") from None
    return int(getattr(frame, "rotation", 0) or 0) % 360
