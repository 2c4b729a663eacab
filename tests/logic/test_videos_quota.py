"""The storage quota on the fakes: every path that changes what an owner's videos count (create, the
upload arriving, a wrong file, expiry, abort, delete) moves the usage exactly once, in the same write as
the video record, so a retried step changes nothing more. That the table adapter moves the usage in the
same transaction as the record is the contract suite's (tests/contract/test_videos_ports.py)."""

from __future__ import annotations

from typing import Any

import pytest

from functions.shared.errors import ConflictError, QuotaExceededError
from functions.shared.plans import GIB, STORAGE_QUOTAS, storage_quota
from functions.shared.principal import Caller, caller_from
from functions.videos import uploads
from functions.videos.logic import VideoService
from functions.videos.models import CreateVideoRequest
from functions.videos.ports import Usage
from functions.videos.uploads import UploadLimits
from tests.fakes.videos import VideosWorld

MIB = 2**20
NOW = 1_800_000_000
OWNER = Caller("owner", frozenset({"videos:write"}), "jwt")
LIMITS = UploadLimits(single_put_max_bytes=6 * MIB, min_part_bytes=5 * MIB)
QUOTAS = {"free": 20 * MIB, "pro": 100 * MIB}


@pytest.fixture
def world() -> VideosWorld:
    return VideosWorld(now=NOW)


@pytest.fixture
def service(world: VideosWorld) -> VideoService:
    return world.service(LIMITS, storage_quotas=QUOTAS)


def create(service: VideoService, size: int, caller: Caller = OWNER) -> Any:
    body = {"title": "t", "upload": {"filename": "a.mp4", "content_type": "video/mp4", "size_bytes": size}}
    return service.create(CreateVideoRequest.model_validate(body), caller)


def usage(service: VideoService, owner: str = "owner") -> Usage:
    return service.repo.usage(owner)


def table_items(world: VideosWorld) -> tuple[dict[str, Any], dict[str, Usage]]:
    return {k: v.model_dump() for k, v in world.repo.records.items()}, dict(world.repo.usages)


def arrive(world: VideosWorld, video_id: str, size: int) -> str:
    """The file lands in S3 and its notification is handled."""
    key = f"originals/{video_id}/a.mp4"
    etag = world.uploads.put(key, b"v" * size, "video/mp4")
    return world.ingest().object_created(key, size, etag)


def test_plans_and_the_callers_plan() -> None:
    assert storage_quota("free") == 20 * GIB == STORAGE_QUOTAS["free"]
    assert storage_quota("no-such-plan") == 20 * GIB  # an unknown plan gets the default, not unlimited
    assert caller_from({"authorizer": {"user_id": "u"}}).plan == "free"  # before the authorizer sends one
    assert caller_from({"authorizer": {"user_id": "u", "plan": "pro"}}).plan == "pro"


def test_creates_reserve_until_the_quota_and_a_create_past_it_changes_nothing(
    world: VideosWorld, service: VideoService
) -> None:
    create(service, 8 * MIB)  # multipart
    create(service, 4 * MIB)  # single PUT
    assert usage(service) == Usage(reserved=12 * MIB)
    before = table_items(world)
    with pytest.raises(QuotaExceededError) as refused:
        create(service, 9 * MIB)
    assert "storage quota (free plan) is 20.0 MiB and 12.0 MiB of it is in use" in refused.value.message
    assert "needs 9.0 MiB" in refused.value.message
    assert refused.value.details == [
        {
            "plan": "free",
            "quota_bytes": 20 * MIB,
            "used_bytes": 12 * MIB,
            "stored_bytes": 0,
            "reserved_bytes": 12 * MIB,
            "requested_bytes": 9 * MIB,
        }
    ]
    assert table_items(world) == before  # no record, no usage change
    assert len(world.uploads.multipart) == 1  # the refused multipart upload was not left open
    create(service, 8 * MIB)  # exactly up to the quota fits
    assert usage(service).used == 20 * MIB
    with pytest.raises(QuotaExceededError):
        create(service, 1)


def test_a_file_larger_than_the_whole_quota_is_refused_before_anything_starts(
    world: VideosWorld, service: VideoService
) -> None:
    with pytest.raises(QuotaExceededError, match=r"needs 21\.0 MiB"):
        create(service, 21 * MIB)
    assert table_items(world) == ({}, {})
    assert world.uploads.multipart == {}


def test_each_plan_has_its_quota_and_each_owner_their_usage(service: VideoService) -> None:
    pro = Caller("pro-user", frozenset({"videos:write"}), "jwt", plan="pro")
    for _ in range(4):
        create(service, 20 * MIB, pro)
    create(service, 20 * MIB)  # another owner's usage is their own
    assert (usage(service, "pro-user").used, usage(service).used) == (80 * MIB, 20 * MIB)


def test_an_upload_that_arrives_turns_its_reservation_into_stored_bytes_once(
    world: VideosWorld, service: VideoService
) -> None:
    video = create(service, 4 * MIB).video
    assert arrive(world, video.id, 4 * MIB) == "uploaded"
    assert usage(service) == Usage(stored=4 * MIB)
    assert arrive(world, video.id, 4 * MIB).startswith("ignored")  # redelivered: nothing moves twice
    assert usage(service) == Usage(stored=4 * MIB)


def test_a_wrong_file_releases_the_reservation_once(world: VideosWorld, service: VideoService) -> None:
    video = create(service, 4 * MIB).video
    assert arrive(world, video.id, 5 * MIB).startswith("failed")
    assert usage(service) == Usage()
    assert arrive(world, video.id, 5 * MIB).startswith("ignored")
    assert usage(service) == Usage()
    create(service, 20 * MIB)  # the space really is free again


def test_expiry_releases_the_reservation_once(world: VideosWorld, service: VideoService) -> None:
    create(service, 8 * MIB)
    world.now = NOW + uploads.UPLOAD_WINDOW_S + 1
    sweeper = world.sweeper()
    assert sweeper.expire_uploads() == 1
    assert usage(service) == Usage()
    assert sweeper.expire_uploads() == 0
    assert usage(service) == Usage()


def test_abort_releases_the_reservation_once(service: VideoService) -> None:
    video = create(service, 8 * MIB).video
    service.abort_upload(video.id, OWNER)
    assert usage(service) == Usage()
    with pytest.raises(ConflictError):
        service.abort_upload(video.id, OWNER)
    assert usage(service) == Usage()


@pytest.mark.parametrize("arrived", [False, True])
def test_deleting_releases_what_the_video_counts_once(
    world: VideosWorld, service: VideoService, arrived: bool
) -> None:
    kept = create(service, 2 * MIB).video
    video = create(service, 4 * MIB).video
    if arrived:
        arrive(world, video.id, 4 * MIB)
    deletion = world.deletion()
    deletion.mark_deleting(video.id)
    assert usage(service).used == 6 * MIB  # the files still exist while the saga runs
    deletion.delete_objects(video.id)
    deletion.delete_record(video.id)
    assert usage(service).used == 2 * MIB
    deletion.delete_record(video.id)  # a retried step: the record is gone, nothing is released twice
    assert usage(service).used == 2 * MIB
    assert service.repo.get(kept.id) is not None


def test_an_upload_for_a_deleted_video_is_removed(world: VideosWorld, service: VideoService) -> None:
    video = create(service, 4 * MIB).video
    deletion = world.deletion()
    deletion.mark_deleting(video.id)
    deletion.delete_objects(video.id)
    deletion.delete_record(video.id)
    # its PUT URL is still valid: the file lands after the video is gone
    assert arrive(world, video.id, 4 * MIB) == "removed: the video is deleted"
    assert world.uploads.keys() == []
    assert usage(service) == Usage()


def test_a_video_from_before_quotas_releases_nothing(world: VideosWorld, service: VideoService) -> None:
    video = create(service, 8 * MIB).video
    record = service.repo.get(video.id)
    assert record is not None
    service.repo.save(record.changed(charged=None), expected_version=record.version)  # as if never charged
    world.repo.usages.pop("owner")
    service.abort_upload(video.id, OWNER)
    assert usage(service) == Usage()  # not negative
