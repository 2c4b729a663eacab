"""Scheduled: fail videos whose upload never completed, and abort their multipart uploads (the bucket's
lifecycle rule removes stray parts too, a day later)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.shared.observability import count, logger, metrics
from functions.videos import wiring
from functions.videos.settings import SweeperSettings

Settings = SweeperSettings  # this function's environment (functions/videos/settings.py)


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    wiring.settings(Settings)
    expired = wiring.sweeper().expire_uploads()
    logger.info("expired uploads", extra={"count": expired})
    count("UploadsExpired", expired)
    return {"expired": expired}
