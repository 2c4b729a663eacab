"""The CDN's cache of media, behind a port (`MediaCache`, functions/shared/ports.py): when a video goes
private or is deleted, its cached copies at the edge must go too (media is cached for a year, `immutable`).

- `CloudFrontCache`: CreateInvalidation on the distribution named by configuration (CDN_DISTRIBUTION_ID).
- `NoCache`: the local cloud's front door caches nothing, so there is nothing to invalidate; it logs that.
"""

from __future__ import annotations

import uuid

from botocore.exceptions import BotoCoreError, ClientError

from functions.shared import aws
from functions.shared.errors import DependencyUnavailableError
from functions.shared.observability import logger
from functions.shared.ports import MediaCache

__all__ = ["NO_CACHE_DISTRIBUTION_ID", "CloudFrontCache", "MediaCache", "NoCache", "media_cache"]

# The distribution id the local cloud gives invalidating functions (infra/local/names.py).
NO_CACHE_DISTRIBUTION_ID = "local-no-cache"


class CloudFrontCache:
    def __init__(self, distribution_id: str) -> None:
        self.distribution_id = distribution_id

    def invalidate(self, paths: list[str]) -> None:
        try:
            created = aws.client("cloudfront").create_invalidation(
                DistributionId=self.distribution_id,
                InvalidationBatch={
                    "Paths": {"Quantity": len(paths), "Items": paths},
                    "CallerReference": uuid.uuid4().hex,
                },
            )
        except (ClientError, BotoCoreError) as exc:
            raise DependencyUnavailableError("Could not invalidate the CDN's cached media; retry.") from exc
        logger.info(
            "cdn invalidation created",
            extra={"paths": paths, "invalidation_id": created["Invalidation"]["Id"]},
        )


class NoCache:
    def invalidate(self, paths: list[str]) -> None:
        logger.info("the local CDN caches nothing: no invalidation needed", extra={"paths": paths})


def media_cache(distribution_id: str) -> MediaCache:
    return NoCache() if distribution_id == NO_CACHE_DISTRIBUTION_ID else CloudFrontCache(distribution_id)
