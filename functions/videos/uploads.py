"""Upload planning: what may be uploaded, and how (one PUT, or a resumable multipart). Pure."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from functions.shared.errors import PayloadTooLargeError, UnsupportedMediaTypeError

MIB = 1024 * 1024
SINGLE_PUT_MAX_BYTES = 100 * MIB  # above this, multipart: resumable, and parallel parts
MIN_PART_BYTES = 16 * MIB
MAX_PARTS = 10_000  # S3's limit
UPLOAD_WINDOW_S = 24 * 3600  # URLs and the record wait this long for the file

# What a browser or phone reports for the containers FFmpeg reads.
VIDEO_TYPES = frozenset(
    {
        "video/mp4",
        "video/quicktime",
        "video/webm",
        "video/x-matroska",
        "video/x-msvideo",
        "video/mpeg",
        "video/3gpp",
        "video/x-m4v",
        "video/ogg",
        "video/mp2t",
    }
)


@dataclass(frozen=True)
class UploadPlan:
    method: str  # "PUT" or "multipart"
    part_size: int | None
    part_count: int | None


def check(content_type: str, size_bytes: int, max_bytes: int) -> None:
    if content_type.split(";", maxsplit=1)[0].strip().lower() not in VIDEO_TYPES:
        raise UnsupportedMediaTypeError(
            f"{content_type!r} is not a video type we accept ({', '.join(sorted(VIDEO_TYPES))})."
        )
    if size_bytes > max_bytes:
        raise PayloadTooLargeError(f"The file is {size_bytes} bytes; the limit is {max_bytes} bytes.")


S3_MIN_PART_BYTES = 5 * MIB  # S3 refuses smaller parts (but the last)


@dataclass(frozen=True)
class UploadLimits:
    max_bytes: int = 5 * 1024 * MIB
    single_put_max_bytes: int = SINGLE_PUT_MAX_BYTES
    min_part_bytes: int = MIN_PART_BYTES


def plan(size_bytes: int, limits: UploadLimits = UploadLimits()) -> UploadPlan:
    if size_bytes <= limits.single_put_max_bytes:
        return UploadPlan("PUT", None, None)
    min_part = max(S3_MIN_PART_BYTES, limits.min_part_bytes)
    part_size = max(min_part, math.ceil(size_bytes / MAX_PARTS / MIB) * MIB)
    return UploadPlan("multipart", part_size, math.ceil(size_bytes / part_size))


def part_length(size_bytes: int, part_size: int, part_number: int) -> int:
    """The exact length of part `part_number` (from 1): `part_size`, except the last, which holds the rest.
    Each part URL signs this length, so S3 refuses a part of any other size."""
    count = math.ceil(size_bytes / part_size)
    if not 1 <= part_number <= count:
        raise ValueError(f"part {part_number} is not one of 1..{count}")
    return part_size if part_number < count else size_bytes - (count - 1) * part_size


def safe_filename(filename: str) -> str:
    """The name kept in the object key: no path, no characters that need escaping in URLs or shells."""
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", base).strip(".-")
    return cleaned[:100] or "upload"


def original_key(video_id: str, filename: str) -> str:
    return f"originals/{video_id}/{safe_filename(filename)}"


def video_id_from_key(key: str) -> str | None:
    parts = key.split("/")
    return parts[1] if len(parts) >= 3 and parts[0] == "originals" and parts[1] else None
