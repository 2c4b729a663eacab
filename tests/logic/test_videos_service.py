"""The API's use cases (functions/videos/logic.py VideoService) on the fakes of their ports: reading,
listing, updating, playback, retry, cancel, and the upload paths (progress, complete, abort)."""

from __future__ import annotations

from typing import Any

import pytest

from functions.shared.errors import ConflictError, NotFoundError
from functions.shared.principal import Caller
from functions.videos import uploads
from functions.videos.logic import UPLOAD_ABORTED, VideoService
from functions.videos.models import (
    CompleteUploadRequest,
    CreateVideoRequest,
    PartIn,
    Status,
    UpdateVideoRequest,
    VideoRecord,
    Visibility,
)
from functions.videos.uploads import UploadLimits
from tests.fakes.videos import VideosWorld

MIB = 2**20
OWNER = Caller("owner", frozenset({"videos:write", "videos:read"}), "jwt")
STRANGER = Caller("stranger", frozenset({"videos:write", "videos:read"}), "jwt")
LIMITS = UploadLimits(single_put_max_bytes=6 * MIB, min_part_bytes=5 * MIB)


@pytest.fixture
def world() -> VideosWorld:
    return VideosWorld()


@pytest.fixture
def service(world: VideosWorld) -> VideoService:
    return world.service(LIMITS)


def create(service: VideoService, size: int = 2048, caller: Caller = OWNER, **fields: Any) -> Any:
    upload = {"filename": "a.mp4", "content_type": "video/mp4", "size_bytes": size}
    body = {"title": "t", **fields, "upload": upload}
    return service.create(CreateVideoRequest.model_validate(body), caller)


def stored(world: VideosWorld, video_id: str) -> VideoRecord:
    video = world.repo.get(video_id)
    assert video is not None
    return video


def set_state(world: VideosWorld, video_id: str, **changes: Any) -> VideoRecord:
    """What other parts of the system did to the record meanwhile (ingest, the publish workflow)."""
    video = stored(world, video_id)
    updated = video.changed(**changes)
    world.repo.save(updated, expected_version=video.version)
    return updated


def ready(world: VideosWorld, service: VideoService, visibility: str = "private") -> VideoRecord:
    video_id = create(service, visibility=visibility).video.id
    prefix = f"public/hls/{video_id}/" if visibility == "public" else f"hls/{video_id}/"
    return set_state(world, video_id, status=Status.READY, media_prefix=prefix, source_etag='"e"')


# --- creating ----------------------------------------------------------------------------------------------


def test_a_small_file_gets_one_put_and_a_large_one_parts(world: VideosWorld, service: VideoService) -> None:
    small = create(service, 2048)
    assert small.upload.method == "PUT"
    assert small.upload.headers == {"Content-Type": "video/mp4", "Content-Length": "2048"}
    assert stored(world, small.video.id).charged == "reserved"
    large = create(service, 12 * MIB)
    assert (large.upload.method, large.upload.part_size) == ("multipart", 5 * MIB)
    assert [p.part_number for p in large.upload.parts] == [1, 2, 3]
    assert list(world.uploads.multipart) == [large.upload.upload_id]
    assert world.repo.usage("owner").reserved == 12 * MIB + 2048


# --- reading and listing -----------------------------------------------------------------------------------


def test_a_private_video_is_not_found_for_anyone_else(service: VideoService) -> None:
    video = create(service).video
    assert service.get(video.id, OWNER).id == video.id
    with pytest.raises(NotFoundError):
        service.get(video.id, STRANGER)
    with pytest.raises(NotFoundError):
        service.get("nope", OWNER)


def test_a_public_video_is_readable_by_anyone_until_it_is_being_deleted(
    world: VideosWorld, service: VideoService
) -> None:
    video = create(service, visibility="public").video
    assert service.get(video.id, STRANGER).id == video.id
    set_state(world, video.id, status=Status.DELETING)
    with pytest.raises(NotFoundError):
        service.get(video.id, STRANGER)
    assert service.get(video.id, OWNER).status is Status.DELETING


def test_listing_mine_and_the_public_catalogue_with_filters_and_pages(
    world: VideosWorld, service: VideoService
) -> None:
    ids = []
    for n in range(5):
        world.now += 1
        ids.append(
            create(service, visibility="public" if n % 2 == 0 else "private", tags=[f"t{n % 2}"]).video.id
        )
    create(service, caller=STRANGER, visibility="public")
    mine = service.list(OWNER, "mine", 10, None, None, None, None)
    assert len(mine.items) == 5
    public = service.list(STRANGER, "public", 10, None, None, None, None)
    assert len(public.items) == 4  # three of the owner's, one of the stranger's
    tagged = service.list(OWNER, "mine", 10, None, None, "t1", None)
    assert {v.id for v in tagged.items} == {ids[1], ids[3]}
    only_private = service.list(OWNER, "mine", 10, None, None, None, Visibility.PRIVATE)
    assert {v.id for v in only_private.items} == {ids[1], ids[3]}
    first = service.list(OWNER, "mine", 2, None, None, None, None)
    assert len(first.items) == 2
    assert first.next_cursor
    rest = service.list(OWNER, "mine", 10, first.next_cursor, None, None, None)
    assert {v.id for v in first.items} | {v.id for v in rest.items} == set(ids)
    assert rest.next_cursor is None


def test_a_video_being_deleted_leaves_the_public_catalogue(world: VideosWorld, service: VideoService) -> None:
    video = create(service, visibility="public").video
    set_state(world, video.id, status=Status.DELETING)
    assert service.list(STRANGER, "public", 10, None, None, None, None).items == []


# --- updating ----------------------------------------------------------------------------------------------


def test_an_update_changes_only_the_fields_sent(world: VideosWorld, service: VideoService) -> None:
    video = create(service, description="d").video
    updated = service.update(video.id, UpdateVideoRequest(title="new"), OWNER)
    assert (updated.title, updated.description, updated.version) == ("new", "d", 2)
    assert world.events.published == []  # no media to move


def test_an_update_that_loses_a_race_is_applied_to_the_newer_state(
    world: VideosWorld, service: VideoService
) -> None:
    video = create(service).video
    world.repo.before_save = lambda _: set_state(world, video.id, description="theirs")
    updated = service.update(video.id, UpdateVideoRequest(title="mine"), OWNER)
    assert (updated.title, updated.description, updated.version) == ("mine", "theirs", 3)


def test_an_update_with_a_stale_version_is_refused_and_changes_nothing(
    world: VideosWorld, service: VideoService
) -> None:
    video = create(service).video
    service.update(video.id, UpdateVideoRequest(title="first"), OWNER)
    with pytest.raises(ConflictError, match="since version 1"):
        service.update(video.id, UpdateVideoRequest(title="second", version=1), OWNER)
    world.repo.before_save = lambda _: set_state(world, video.id, description="theirs")
    with pytest.raises(ConflictError, match="while this update"):
        service.update(video.id, UpdateVideoRequest(title="third", version=2), OWNER)
    assert (stored(world, video.id).title, stored(world, video.id).version) == ("first", 3)


def test_an_update_of_a_video_being_deleted_or_someone_elses_is_refused(
    world: VideosWorld, service: VideoService
) -> None:
    video = create(service).video
    with pytest.raises(NotFoundError):
        service.update(video.id, UpdateVideoRequest(title="x"), STRANGER)
    set_state(world, video.id, status=Status.DELETING)
    with pytest.raises(ConflictError, match="being deleted"):
        service.update(video.id, UpdateVideoRequest(title="x"), OWNER)


def test_changing_the_visibility_of_a_video_with_media_announces_the_move(
    world: VideosWorld, service: VideoService
) -> None:
    video = ready(world, service)
    service.update(video.id, UpdateVideoRequest(visibility=Visibility.PUBLIC), OWNER)
    assert world.events.of_type("video.visibility_changed") == [
        {"video_id": video.id, "owner_id": "owner", "visibility": "public"}
    ]
    service.update(video.id, UpdateVideoRequest(title="same visibility"), OWNER)
    assert len(world.events.published) == 1


# --- playback ----------------------------------------------------------------------------------------------


def test_a_public_video_plays_from_plain_urls(world: VideosWorld, service: VideoService) -> None:
    video = ready(world, service, "public")
    urls = service.playback(video.id, STRANGER)
    assert urls.hls_url == f"https://cdn.test/media/public/hls/{video.id}/master.m3u8"
    assert urls.expires_at is None


def test_a_private_video_plays_for_its_owner_under_a_token(world: VideosWorld, service: VideoService) -> None:
    video = ready(world, service)
    urls = service.playback(video.id, OWNER)
    assert urls.hls_url == f"https://cdn.test/media/s/token-{video.id}/hls/{video.id}/master.m3u8"
    assert urls.poster_url.endswith(f"/hls/{video.id}/poster.jpg")
    assert urls.expires_at is not None
    with pytest.raises(NotFoundError):
        service.playback(video.id, STRANGER)


def test_a_video_that_is_not_ready_does_not_play(service: VideoService) -> None:
    video = create(service).video
    with pytest.raises(ConflictError, match="awaiting_upload"):
        service.playback(video.id, OWNER)


# --- retry and cancel --------------------------------------------------------------------------------------


def _failed_after_upload(world: VideosWorld, service: VideoService) -> VideoRecord:
    video = create(service).video
    key = stored(world, video.id).upload.key
    etag = world.uploads.put(key, b"v" * 2048, "video/mp4")
    return set_state(world, video.id, status=Status.FAILED, error="boom", source_etag=etag, progress=40)


def test_a_failed_video_is_retried_from_its_original(world: VideosWorld, service: VideoService) -> None:
    failed = _failed_after_upload(world, service)
    retried = service.retry_transcode(failed.id, OWNER)
    assert (retried.status, retried.error, retried.progress) == (Status.UPLOADED, None, 0)
    [event] = world.events.of_type("video.uploaded")
    assert event["retry"] is True
    assert event["etag"] == failed.source_etag


def test_only_a_failed_video_with_its_original_can_be_retried(
    world: VideosWorld, service: VideoService
) -> None:
    video = create(service).video
    with pytest.raises(ConflictError, match="Only a failed video"):
        service.retry_transcode(video.id, OWNER)
    failed = _failed_after_upload(world, service)
    world.uploads.delete(failed.upload.key)
    with pytest.raises(ConflictError, match="upload itself failed"):
        service.retry_transcode(failed.id, OWNER)
    with pytest.raises(NotFoundError):
        service.retry_transcode(failed.id, STRANGER)
    assert world.events.published == []
    assert stored(world, failed.id).status is Status.FAILED


@pytest.mark.parametrize("status", [Status.UPLOADED, Status.PROCESSING])
def test_processing_is_cancelled_with_the_reason(
    world: VideosWorld, service: VideoService, status: Status
) -> None:
    video = set_state(world, create(service).video.id, status=status)
    cancelled = service.cancel_transcode(video.id, OWNER)
    assert (cancelled.status, cancelled.error) == (Status.FAILED, "Processing was cancelled by its owner.")
    assert world.events.of_type("video.transcode_cancelled") == [{"video_id": video.id, "owner_id": "owner"}]


def test_only_a_video_being_processed_can_be_cancelled(world: VideosWorld, service: VideoService) -> None:
    video = ready(world, service)
    with pytest.raises(ConflictError, match="this one is ready"):
        service.cancel_transcode(video.id, OWNER)
    with pytest.raises(NotFoundError):
        service.cancel_transcode(video.id, STRANGER)
    assert world.events.published == []


# --- resuming, completing and aborting a multipart upload --------------------------------------------------


def test_resuming_lists_what_arrived_and_urls_for_the_rest(world: VideosWorld, service: VideoService) -> None:
    created = create(service, 12 * MIB)
    world.uploads.put_part(created.upload.upload_id, 2, b"v" * 5 * MIB)
    progress = service.upload_progress(created.video.id, OWNER)
    assert [p.part_number for p in progress.received] == [2]
    assert [p.part_number for p in progress.missing] == [1, 3]
    assert "length=2097152" in progress.missing[1].url  # the last part holds the rest: 2 MiB


def test_completing_needs_every_part_once(world: VideosWorld, service: VideoService) -> None:
    size = 12 * MIB
    created = create(service, size)
    upload_id = created.upload.upload_id
    etags = [
        world.uploads.put_part(upload_id, n, b"v" * uploads.part_length(size, 5 * MIB, n)) for n in (1, 2, 3)
    ]
    with pytest.raises(ConflictError, match=r"Expected parts 1\.\.3"):
        service.complete_upload(
            created.video.id, CompleteUploadRequest(parts=[PartIn(part_number=1, etag=etags[0])]), OWNER
        )
    done = CompleteUploadRequest(
        parts=[PartIn(part_number=n, etag=e) for n, e in zip((1, 2, 3), etags, strict=True)]
    )
    assert service.complete_upload(created.video.id, done, OWNER).status is Status.AWAITING_UPLOAD
    assert world.uploads.head(f"originals/{created.video.id}/a.mp4").size == size  # type: ignore[union-attr]


def test_abort_drops_the_parts_and_fails_the_video_once(world: VideosWorld, service: VideoService) -> None:
    created = create(service, 12 * MIB)
    aborted = service.abort_upload(created.video.id, OWNER)
    assert (aborted.status, aborted.error, aborted.version) == (Status.FAILED, UPLOAD_ABORTED, 2)
    assert world.uploads.multipart == {}
    assert world.repo.overdue_uploads(int(world.now) + 10 * uploads.UPLOAD_WINDOW_S) == []
    with pytest.raises(ConflictError, match="failed"):
        service.abort_upload(created.video.id, OWNER)
    assert stored(world, created.video.id).version == 2


def test_an_abort_interrupted_after_s3_is_finished_by_aborting_again(
    world: VideosWorld, service: VideoService
) -> None:
    created = create(service, 12 * MIB)
    world.uploads.abort(
        f"originals/{created.video.id}/a.mp4", created.upload.upload_id
    )  # S3 done, record not
    assert service.abort_upload(created.video.id, OWNER).status is Status.FAILED


def test_abort_is_not_found_for_someone_else_and_changes_nothing(
    world: VideosWorld, service: VideoService
) -> None:
    created = create(service, 12 * MIB)
    with pytest.raises(NotFoundError):
        service.abort_upload(created.video.id, STRANGER)
    assert list(world.uploads.multipart) == [created.upload.upload_id]
    assert stored(world, created.video.id).version == 1


def test_a_single_put_has_nothing_to_abort(world: VideosWorld, service: VideoService) -> None:
    created = create(service, 2048)
    with pytest.raises(ConflictError, match="single PUT"):
        service.abort_upload(created.video.id, OWNER)
    assert stored(world, created.video.id).status is Status.AWAITING_UPLOAD


def test_a_completed_upload_cannot_be_aborted(world: VideosWorld, service: VideoService) -> None:
    size = 12 * MIB
    created = create(service, size)
    upload_id = created.upload.upload_id
    etags = [
        world.uploads.put_part(upload_id, n, b"v" * uploads.part_length(size, 5 * MIB, n)) for n in (1, 2, 3)
    ]
    done = CompleteUploadRequest(
        parts=[PartIn(part_number=n, etag=e) for n, e in zip((1, 2, 3), etags, strict=True)]
    )
    service.complete_upload(created.video.id, done, OWNER)
    # Completed, and the upload notification not handled yet: the record still awaits its file.
    with pytest.raises(ConflictError, match="already completed"):
        service.abort_upload(created.video.id, OWNER)
    assert (stored(world, created.video.id).status, stored(world, created.video.id).version) == (
        Status.AWAITING_UPLOAD,
        1,
    )
