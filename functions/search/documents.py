"""Who may find a video, and with what words: a video record as the index holds it."""

from __future__ import annotations

from functions.search.models import Change, SearchDocument
from functions.videos.models import Status, VideoRecord, Visibility

PUBLIC = "public"


def owner_term(user_id: str) -> str:
    return f"owner:{user_id}"


def audience_of(caller_id: str) -> tuple[str, ...]:
    """The audience terms a caller's query may match: their own videos and the public ones."""
    return (owner_term(caller_id), PUBLIC)


def document_for(video: VideoRecord) -> SearchDocument | None:
    """The video as searched, or None when nobody may find it any more (it is being deleted).

    Its owner finds it whatever its status; everyone else only once it is public and ready. Private and
    unlisted videos carry no `public` term, so no other caller's query can match them.
    """
    if video.status is Status.DELETING:
        return None
    audience = [owner_term(video.owner_id)]
    if video.visibility is Visibility.PUBLIC and video.status is Status.READY:
        audience.append(PUBLIC)
    return SearchDocument(
        video_id=video.id,
        title=video.title,
        description=video.description,
        tags=tuple(video.tags),
        audience=tuple(audience),
        version=video.version,
    )


def change_for(video_id: str, video: VideoRecord | None) -> Change:
    """The index change for a video's new state (None: its record is gone)."""
    return Change(video_id=video_id, document=None if video is None else document_for(video))
