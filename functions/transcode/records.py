"""`RunRecords` over the videos domain's repository: the key layout and the conditions a running
encode's writes carry live in functions/videos/dal.py, not here."""

from __future__ import annotations

from functions.transcode.ports import RunCheck
from functions.videos.dal import VideoRepository
from functions.videos.models import Status, Visibility


class RepositoryRunRecords:
    def __init__(self, repository: VideoRepository) -> None:
        self.repository = repository

    def check(self, video_id: str) -> RunCheck | None:
        state = self.repository.processing_state(video_id)
        if state is None:
            return None
        status, attempt, visibility = state
        return RunCheck(status is Status.PROCESSING, attempt, visibility is Visibility.PUBLIC)

    def raise_progress(self, video_id: str, percent: int, attempt: str | None) -> bool:
        return self.repository.raise_progress(video_id, percent, attempt)

    def add_progress(self, video_id: str, points: int, ceiling: int, attempt: str | None) -> int | None:
        return self.repository.add_progress(video_id, points, ceiling, attempt)

    def mark_playable(self, video_id: str, prefix: str, attempt: str | None) -> bool:
        return self.repository.mark_playable(video_id, prefix, attempt)
