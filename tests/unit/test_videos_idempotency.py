"""Idempotency-Key on create, against moto with the real videos service: a retry returns the first
response and makes nothing; the same key with another body is refused; keys are per caller; a failed
create keeps nothing; keys expire with the upload window."""

from __future__ import annotations

import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import boto3
import pytest

from functions.shared.errors import (
    ConflictError,
    MalformedRequestError,
    QuotaExceededError,
    ValidationFailedError,
)
from functions.shared.events import EventPublisher
from functions.shared.principal import Caller
from functions.videos import idempotency, wiring
from functions.videos.dal import VideoRepository
from functions.videos.logic import VideoService
from functions.videos.models import CreateVideoRequest
from functions.videos.storage import UploadStore
from functions.videos.uploads import UploadLimits
from tests.fakes.videos import FakeSigner, RecordingWorkflow

MIB = 2**20
OWNER = Caller("owner", frozenset({"videos:write"}), "jwt")
OTHER = Caller("other", frozenset({"videos:write"}), "jwt")


@pytest.fixture
def service(videos_aws: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[VideoService]:
    for name, value in {  # the videos function's whole environment: its settings are validated whole
        "VIDEOS_TABLE_NAME": "videos",
        "UPLOADS_BUCKET_NAME": "uploads",
        "EVENTS_EVENT_BUS_NAME": "bus",
        "VIDEO_DELETE_STATE_MACHINE_ARN": "arn:aws:states:us-east-1:123456789012:stateMachine:video_delete",
        "MEDIA_TOKEN_KEYS_SECRET_ID": "media_token_keys",
        "CDN_URL": "https://cdn.test",
    }.items():
        monkeypatch.setenv(name, value)
    wiring.reset()
    idempotency.register(SimpleNamespace(get_remaining_time_in_millis=lambda: 29_000))  # type: ignore[arg-type]
    yield VideoService(
        VideoRepository("videos"),
        UploadStore("uploads"),
        EventPublisher("bus"),
        UploadLimits(),
        delete_workflow=RecordingWorkflow(),
        signer=FakeSigner(),
        storage_quotas={"free": 10 * MIB},
    )
    wiring.reset()


def body(title: str = "t", size: int = 1000, **extra: Any) -> CreateVideoRequest:
    upload = {"filename": "a.mp4", "content_type": "video/mp4", "size_bytes": size}
    return CreateVideoRequest.model_validate({"title": title, "upload": upload, **extra})


def create(service: VideoService, caller: Caller, key: str, request: CreateVideoRequest) -> dict[str, Any]:
    def make() -> dict[str, Any]:
        created = service.create(request, caller)
        return {
            "video": created.video.model_dump(mode="json"),
            "upload": created.upload.model_dump(mode="json"),
        }

    return wiring.idempotent_creates().create_once(caller, key, request, make)


def videos() -> list[str]:
    items = boto3.client("dynamodb").scan(TableName="videos")["Items"]
    return sorted(i["pk"]["S"] for i in items if i["pk"]["S"].startswith("VIDEO#"))


def test_a_retry_with_the_same_key_returns_the_first_response(service: VideoService) -> None:
    first = create(service, OWNER, "k-1", body(tags=["Cats"]))
    again = create(service, OWNER, "k-1", body(tags=["cats"]))  # the same request, as validated
    assert again == first  # the same video, the same upload URL
    assert videos() == [f"VIDEO#{first['video']['id']}"]
    assert service.repo.usage("owner").reserved == 1000  # reserved once


def test_the_same_key_with_another_body_is_refused_and_creates_nothing(service: VideoService) -> None:
    first = create(service, OWNER, "k-1", body())
    with pytest.raises(ValidationFailedError, match="different request body"):
        create(service, OWNER, "k-1", body(title="another"))
    assert videos() == [f"VIDEO#{first['video']['id']}"]


def test_keys_are_per_caller(service: VideoService) -> None:
    mine = create(service, OWNER, "same-key", body())
    theirs = create(service, OTHER, "same-key", body())
    assert mine["video"]["id"] != theirs["video"]["id"]
    assert len(videos()) == 2


def test_a_failed_create_keeps_nothing_so_the_key_can_be_retried(service: VideoService) -> None:
    create(service, OWNER, "fill", body(size=6 * MIB))
    with pytest.raises(QuotaExceededError):
        create(service, OWNER, "k-1", body(size=5 * MIB))
    assert len(videos()) == 1
    service.storage_quotas = {"free": 20 * MIB}  # the owner upgraded (or freed space)
    created = create(service, OWNER, "k-1", body(size=5 * MIB))
    assert f"VIDEO#{created['video']['id']}" in videos()


def test_a_key_in_progress_is_a_conflict(service: VideoService) -> None:
    def make() -> dict[str, Any]:  # a concurrent retry arrives while the first is still creating
        with pytest.raises(ConflictError, match="still being processed"):
            create(service, OWNER, "k-1", body())
        return {"video": {"id": "x"}}

    assert wiring.idempotent_creates().create_once(OWNER, "k-1", body(), make) == {"video": {"id": "x"}}


def test_keys_expire_with_the_upload_window(service: VideoService) -> None:
    create(service, OWNER, "k-1", body())
    items = boto3.client("dynamodb").scan(TableName="videos")["Items"]
    stored = [i for i in items if i["pk"]["S"] == "IDEMPOTENCY#create_video"]
    assert len(stored) == 1
    assert stored[0]["status"]["S"] == "COMPLETED"
    ttl = int(stored[0]["expires_at"]["N"])  # the table's TTL attribute: DynamoDB removes it then
    assert abs(ttl - (time.time() + 24 * 3600)) < 60


@pytest.mark.parametrize("value", ["", "x" * 256, "has space", "é"])
def test_a_malformed_key_is_a_400(value: str) -> None:
    with pytest.raises(MalformedRequestError):
        idempotency.key_from({"Idempotency-Key": value})
    assert idempotency.key_from({"idempotency-key": "abc-123"}) == "abc-123"
    assert idempotency.key_from({}) is None
