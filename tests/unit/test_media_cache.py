"""Finding 3 (invalidation half): a video made private or deleted must not keep playing from the edge's
cache (media is cached for a year, `immutable`). The CloudFront adapter runs against moto here; the call
sites (the visibility move, the delete saga's DeleteObjects step) against a recording fake in
tests/logic/test_videos_media.py and tests/logic/test_videos_delete.py."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from functions.shared import aws
from functions.shared.cdn import NO_CACHE_DISTRIBUTION_ID, CloudFrontCache, NoCache, media_cache
from functions.shared.errors import DependencyUnavailableError
from functions.videos.logic import cached_media_paths
from infra.local.names import LocalNames

PATHS = ["/hls/v1/*", "/public/hls/v1/*", "/media/public/hls/v1/*"]


@pytest.fixture
def moto(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        aws.reset_clients()
        yield
    aws.reset_clients()


def _distribution() -> str:
    config: Any = {
        "CallerReference": "skyreel-test",
        "Comment": "",
        "Enabled": True,
        "Origins": {
            "Quantity": 1,
            "Items": [
                {
                    "Id": "media",
                    "DomainName": "media.s3.amazonaws.com",
                    "S3OriginConfig": {"OriginAccessIdentity": ""},
                }
            ],
        },
        "DefaultCacheBehavior": {"TargetOriginId": "media", "ViewerProtocolPolicy": "allow-all", "MinTTL": 0},
    }
    distribution_id: str = boto3.client("cloudfront").create_distribution(DistributionConfig=config)[
        "Distribution"
    ]["Id"]
    return distribution_id


def test_cloudfront_adapter_creates_one_invalidation_with_the_videos_paths(moto: None) -> None:
    distribution_id = _distribution()
    CloudFrontCache(distribution_id).invalidate(cached_media_paths("v1"))
    client = boto3.client("cloudfront")
    listed = client.list_invalidations(DistributionId=distribution_id)["InvalidationList"]["Items"]
    assert len(listed) == 1
    batch = client.get_invalidation(DistributionId=distribution_id, Id=listed[0]["Id"])["Invalidation"][
        "InvalidationBatch"
    ]
    assert batch["Paths"]["Items"] == PATHS


def test_an_invalidation_that_fails_is_a_retryable_dependency_error(moto: None) -> None:
    with pytest.raises(DependencyUnavailableError):
        CloudFrontCache("ENOSUCHDISTRIBUTION").invalidate(PATHS)


def test_the_local_cloud_gets_the_adapter_that_invalidates_nothing() -> None:
    assert LocalNames("http://127.0.0.1:1").cdn_distribution_id() == NO_CACHE_DISTRIBUTION_ID
    assert isinstance(media_cache(NO_CACHE_DISTRIBUTION_ID), NoCache)
    assert isinstance(media_cache("E2EXAMPLE"), CloudFrontCache)
