"""Finding 3 (invalidation half): a video made private or deleted must not keep playing from the edge's
cache (media is cached for a year, `immutable`). The CloudFront adapter runs against moto; the call sites
(the visibility move, the delete saga's DeleteObjects step) against a recording fake."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from functions.shared import aws
from functions.shared.cdn import NO_CACHE_DISTRIBUTION_ID, CloudFrontCache, NoCache, media_cache
from functions.shared.errors import DependencyUnavailableError
from functions.videos.dal import VideoRepository
from functions.videos.logic import Deletion, cached_media_paths
from functions.videos.media import follow_visibility
from functions.videos.models import Status, UploadRecord, VideoRecord, Visibility
from functions.videos.storage import UploadStore, delete_prefix
from infra.local.names import LocalNames
from infra.local.provision import _table_request
from infra.topology import TOPOLOGY
from tests.unit.test_videos_delete_saga import RecordingCache

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


class NoEvents:
    def publish(self, detail_type: str, detail: dict[str, Any]) -> None:
        raise AssertionError("deleting objects publishes nothing")


def _video(repo: VideoRepository, visibility: Visibility, media_prefix: str) -> None:
    upload = UploadRecord(
        key="originals/v1/a.mp4",
        filename="a.mp4",
        content_type="video/mp4",
        size_bytes=1,
        method="PUT",
        expires_at=0,
    )
    repo.create(
        VideoRecord(
            id="v1",
            owner_id="u1",
            title="t",
            visibility=visibility,
            status=Status.READY,
            media_prefix=media_prefix,
            upload=upload,
            created_at="2026-01-01T00:00:00Z",
            updated_at="2026-01-01T00:00:00Z",
        )
    )


@pytest.fixture
def stores(moto: None) -> VideoRepository:
    boto3.client("dynamodb").create_table(**_table_request(TOPOLOGY.table("videos"), "videos"))
    s3 = boto3.client("s3")
    for bucket in ("media", "uploads"):
        s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket="media", Key="public/hls/v1/master.m3u8", Body=b"#EXTM3U\n")
    return VideoRepository("videos")


def test_making_a_video_private_invalidates_its_cached_media(stores: VideoRepository) -> None:
    _video(stores, Visibility.PRIVATE, "public/hls/v1/")  # just made private: media still under public/
    cache = RecordingCache()
    assert follow_visibility(stores, "media", "v1", cache).startswith("moved 1 objects")
    assert cache.invalidated == [PATHS]


def test_a_retried_move_invalidates_again(stores: VideoRepository) -> None:
    """A move that finished but whose invalidation failed is retried: the media is in place by then."""
    _video(stores, Visibility.PUBLIC, "public/hls/v1/")
    cache = RecordingCache()
    assert follow_visibility(stores, "media", "v1", cache) == "already in place"
    assert cache.invalidated == [PATHS]


def test_deleting_a_video_invalidates_its_cached_media(stores: VideoRepository) -> None:
    _video(stores, Visibility.PUBLIC, "public/hls/v1/")
    cache = RecordingCache()
    deletion = Deletion(stores, UploadStore("uploads"), "media", delete_prefix, NoEvents(), cache)
    assert deletion.delete_objects("v1") == 1
    assert cache.invalidated == [PATHS]
