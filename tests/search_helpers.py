"""Video records for search tests (no AWS)."""

from __future__ import annotations

import itertools

from functions.videos.models import Status, UploadRecord, VideoRecord, Visibility

_ids = itertools.count(1)


def video(
    title: str,
    owner: str = "alice",
    *,
    description: str = "",
    tags: tuple[str, ...] = (),
    visibility: Visibility = Visibility.PUBLIC,
    status: Status = Status.READY,
    video_id: str | None = None,
    version: int = 1,
) -> VideoRecord:
    vid = video_id or f"v{next(_ids):06d}"
    return VideoRecord(
        id=vid,
        owner_id=owner,
        title=title,
        description=description,
        tags=list(tags),
        visibility=visibility,
        status=status,
        upload=UploadRecord(
            key=f"originals/{vid}/clip.mp4",
            filename="clip.mp4",
            content_type="video/mp4",
            size_bytes=1,
            method="PUT",
            expires_at=0,
        ),
        version=version,
        created_at="2026-11-30T00:00:00.000Z",
        updated_at="2026-11-30T00:00:00.000Z",
    )
