"""Where a video's media lives follows its visibility: the CDN serves keys under `public/` to anyone and
every other key only with a playback token. A change of visibility moves the files (copy, switch the record,
delete the old copies), each step idempotent so a retried event finishes the move."""

from __future__ import annotations

import functools
import json
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError

from functions.shared import aws
from functions.shared.cdn import MediaCache
from functions.shared.errors import DependencyUnavailableError
from functions.shared.observability import logger
from functions.videos import settings
from functions.videos.dal import VersionConflictError, VideoRepository
from functions.videos.logic import cached_media_paths
from functions.videos.models import Status, Visibility
from functions.videos.storage import delete_prefix

ATTEMPTS = 5


def prefix_for(video_id: str, visibility: Visibility) -> str:
    """The one rule for where media goes, used by the transcoder when it writes and by moves."""
    return f"public/hls/{video_id}/" if visibility is Visibility.PUBLIC else f"hls/{video_id}/"


def copy_prefix(bucket: str, source: str, target: str) -> int:
    s3: Any = aws.s3()
    copied = 0
    try:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=source):
            for obj in page.get("Contents", []):
                s3.copy_object(
                    Bucket=bucket,
                    Key=target + obj["Key"][len(source) :],
                    MetadataDirective="COPY",
                    CopySource={"Bucket": bucket, "Key": obj["Key"]},
                )
                copied += 1
    except ClientError as exc:
        raise DependencyUnavailableError(f"Could not copy media from {source} to {target}.") from exc
    return copied


def follow_visibility(repo: VideoRepository, bucket: str, video_id: str, cache: MediaCache) -> str:
    for _ in range(ATTEMPTS):
        video = repo.get(video_id)
        if video is None or not video.media_prefix:
            return "nothing to move"
        if video.status is Status.DELETING:  # the delete saga removes both prefixes: copying would orphan
            return "being deleted"
        target = prefix_for(video.id, video.visibility)
        if video.media_prefix == target:
            if video.visibility is not Visibility.PUBLIC:
                # a move to public/ that lost the race with a change back: its copy must not stay
                delete_prefix(bucket, prefix_for(video.id, Visibility.PUBLIC))
            # Also reached by a retried event whose move finished but whose invalidation failed.
            cache.invalidate(cached_media_paths(video.id))
            return "already in place"
        source = video.media_prefix
        copied = copy_prefix(bucket, source, target)
        try:
            repo.save(
                video.changed(media_prefix=target),
                expected_version=video.version,
            )
        except VersionConflictError:
            continue  # changed meanwhile (maybe back again): look at it afresh
        delete_prefix(bucket, source)
        # The edge caches media for a year: a video made private must stop playing from its old public URLs.
        cache.invalidate(cached_media_paths(video.id))
        return f"moved {copied} objects from {source} to {target}"
    raise DependencyUnavailableError(
        f"video {video_id} kept changing during the move; the event will be retried"
    )


@functools.cache
def _repo() -> VideoRepository:
    return VideoRepository(settings.settings().table)


@logger.inject_lambda_context(log_event=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """EventBridge: video.visibility_changed."""
    bucket = settings.require(settings.settings().media_bucket, "the media bucket")
    video_id = event["detail"]["video_id"]
    outcome = follow_visibility(_repo(), bucket, video_id, settings.media_cache())
    logger.info(
        "media follows visibility",
        extra={"video_id": video_id, "outcome": outcome, "event": json.dumps(event["detail"])},
    )
    return {"outcome": outcome}
