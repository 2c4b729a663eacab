"""`videos_media`: on `video.visibility_changed`, the video's media follows its visibility (the move itself
is the use case functions/videos/logic.py `MediaMoves`)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.shared.domain_events import VideoVisibilityChanged
from functions.shared.observability import logger
from functions.videos import wiring
from functions.videos.settings import MediaSettings

Settings = MediaSettings  # this function's environment (functions/videos/settings.py)


@logger.inject_lambda_context(log_event=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """EventBridge: video.visibility_changed."""
    wiring.settings(Settings)
    detail = VideoVisibilityChanged.model_validate(event["detail"])
    outcome = wiring.media_moves().follow_visibility(detail.video_id)
    logger.info("media follows visibility", extra={"video_id": detail.video_id, "outcome": outcome})
    return {"outcome": outcome}
