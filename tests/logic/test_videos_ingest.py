"""Upload notifications (functions/videos/logic.py Ingest) and abandoned uploads (Sweeper) on the fakes:
the arrived file is checked against what was declared, once; a file for a deleted video is removed; an
upload past its window fails with the reason. Then the SQS entry's parsing of S3 notifications."""

from __future__ import annotations

import json
from typing import Any

import pytest

from functions.shared.principal import Caller
from functions.videos import ingest, uploads, wiring
from functions.videos.logic import VideoService
from functions.videos.models import CreateVideoRequest, Status, VideoRecord
from tests.fakes.videos import VideosWorld

OWNER = Caller("owner", frozenset({"videos:write"}), "jwt")
SIZE = 2048


@pytest.fixture
def world() -> VideosWorld:
    return VideosWorld()


@pytest.fixture
def service(world: VideosWorld) -> VideoService:
    return world.service()


def create(service: VideoService, content_type: str = "video/mp4") -> str:
    upload = {"filename": "a.mp4", "content_type": content_type, "size_bytes": SIZE}
    return service.create(CreateVideoRequest.model_validate({"title": "t", "upload": upload}), OWNER).video.id


def stored(world: VideosWorld, video_id: str) -> VideoRecord:
    video = world.repo.get(video_id)
    assert video is not None
    return video


def land(
    world: VideosWorld, video_id: str, size: int = SIZE, content_type: str = "video/mp4"
) -> tuple[str, str]:
    key = f"originals/{video_id}/a.mp4"
    return key, world.uploads.put(key, b"v" * size, content_type)


def test_the_declared_file_marks_the_video_uploaded_once(world: VideosWorld, service: VideoService) -> None:
    video_id = create(service)
    key, etag = land(world, video_id)
    assert world.ingest().object_created(key, SIZE, etag) == "uploaded"
    video = stored(world, video_id)
    assert (video.status, video.source_etag, video.charged) == (Status.UPLOADED, etag, "stored")
    [event] = world.events.of_type("video.uploaded")
    assert event == {
        "video_id": video_id,
        "owner_id": "owner",
        "filename": "a.mp4",
        "key": key,
        "etag": etag,
        "size_bytes": SIZE,
        "retry": False,
    }
    assert world.ingest().object_created(key, SIZE, etag) == "ignored: the video is already uploaded"
    assert len(world.events.published) == 1


def test_a_file_of_another_size_or_type_fails_the_video_and_goes(
    world: VideosWorld, service: VideoService
) -> None:
    longer = create(service)
    key, etag = land(world, longer, SIZE + 1)
    assert (
        world.ingest()
        .object_created(key, SIZE + 1, etag)
        .startswith("failed: The uploaded file is 2049 bytes")
    )
    assert world.uploads.head(key) is None
    other_type = create(service)
    key, etag = land(world, other_type, content_type="application/pdf")
    assert "not 'video/mp4' as declared" in world.ingest().object_created(key, SIZE, etag)
    for video_id in (longer, other_type):
        assert (stored(world, video_id).status, stored(world, video_id).charged) == (Status.FAILED, None)
    assert world.events.published == []


def test_a_file_for_a_deleted_or_deleting_video_is_removed(world: VideosWorld, service: VideoService) -> None:
    deleting = create(service)
    service.start_delete(deleting, OWNER)
    key, etag = land(world, deleting)
    assert world.ingest().object_created(key, SIZE, etag) == "removed: the video is deleted"
    assert world.uploads.head(key) is None
    key, etag = land(world, "never-existed")
    assert world.ingest().object_created(key, SIZE, etag) == "removed: the video is deleted"


def test_keys_that_no_video_awaits_are_ignored(world: VideosWorld, service: VideoService) -> None:
    video_id = create(service)
    world.uploads.put("elsewhere/x", b"x")
    assert world.ingest().object_created("elsewhere/x", 1, '"x"') == "ignored: no video awaits this key"
    assert (
        world.ingest().object_created(f"originals/{video_id}/a.mp4", SIZE, '"x"')
        == "ignored: the object is gone"
    )


def test_the_sweeper_fails_uploads_past_their_window_and_aborts_them(
    world: VideosWorld, service: VideoService
) -> None:
    parts = world.service(uploads.UploadLimits(single_put_max_bytes=1024, min_part_bytes=1024))
    multipart = parts.create(
        CreateVideoRequest.model_validate(
            {
                "title": "t",
                "upload": {"filename": "a.mp4", "content_type": "video/mp4", "size_bytes": 6 * 2**20},
            }
        ),
        OWNER,
    ).video.id
    single = create(service)
    arrived = create(service)
    key, etag = land(world, arrived)
    world.ingest().object_created(key, SIZE, etag)
    assert world.sweeper().expire_uploads() == 0  # within the window
    world.now += uploads.UPLOAD_WINDOW_S + 1
    assert world.sweeper().expire_uploads() == 2
    for video_id in (multipart, single):
        video = stored(world, video_id)
        assert (video.status, video.error, video.charged) == (
            Status.FAILED,
            "The upload was not completed within 24 hours.",
            None,
        )
    assert world.uploads.multipart == {}
    assert stored(world, arrived).status is Status.UPLOADED
    assert world.sweeper().expire_uploads() == 0


def test_the_entry_reads_s3_notifications_through_the_queue(
    world: VideosWorld, service: VideoService, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(wiring, "ingest", world.ingest)
    video_id = create(service)
    key, etag = land(world, video_id)

    def record(body: dict[str, Any]) -> Any:
        from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

        return SQSRecord({"body": json.dumps(body), "messageId": "m1"})

    ingest.handle_record(record({"Event": "s3:TestEvent"}))
    ingest.handle_record(
        record({"Records": [{"eventName": "ObjectRemoved:Delete", "s3": {"object": {"key": key}}}]})
    )
    assert stored(world, video_id).status is Status.AWAITING_UPLOAD
    encoded = key.replace("/", "%2F")  # S3 URL-encodes keys in notifications
    created = {
        "eventName": "ObjectCreated:Put",
        "s3": {"object": {"key": encoded, "size": SIZE, "eTag": etag}},
    }
    ingest.handle_record(record({"Records": [created]}))
    assert stored(world, video_id).status is Status.UPLOADED
