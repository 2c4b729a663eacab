"""The videos ports' contract: ONE set of assertions, run against each in-memory fake (tests/fakes/videos.py)
and against its real adapter on moto, so a logic test on a fake relies only on what the adapter does.

Each implementation comes with a small probe for what a test must do or see from outside the port (a
client sending an object or a part, the executions a state machine has); the assertions use only the port
and the probe.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws

from functions.shared import aws
from functions.shared.errors import ConflictError, DependencyUnavailableError
from functions.shared.media_token import check, new_media_keys
from functions.videos.dal import VideoRepository
from functions.videos.models import Status, UploadRecord, VideoRecord, Visibility
from functions.videos.ports import (
    MediaSigner,
    MediaStore,
    OverQuotaError,
    UploadStorage,
    Usage,
    VersionConflictError,
    VideoStore,
    WorkflowStarter,
)
from functions.videos.signing import MediaSigner as SecretsMediaSigner
from functions.videos.storage import MediaStore as S3MediaStore
from functions.videos.storage import UploadStore
from functions.videos.workflow import StepFunctionsStarter
from infra.local.provision import _table_request
from infra.topology import TOPOLOGY
from tests.fakes.videos import (
    FakeSigner,
    InMemoryMedia,
    InMemoryUploads,
    InMemoryVideos,
    RecordingWorkflow,
)

MIB = 2**20
NOW = 1_900_000_000
KINDS = ["fake", "adapter"]


@pytest.fixture
def moto() -> Iterator[None]:
    with mock_aws():
        aws.reset_clients()
        boto3.client("dynamodb").create_table(**_table_request(TOPOLOGY.table("videos"), "videos"))
        for bucket in ("uploads", "media"):
            boto3.client("s3").create_bucket(Bucket=bucket)
        yield
    aws.reset_clients()


def record(
    video_id: str,
    owner: str = "u1",
    created_at: str = "2026-01-01T00:00:00.000Z",
    charged: str | None = None,
    size: int = MIB,
    **fields: Any,
) -> VideoRecord:
    return VideoRecord(
        id=video_id,
        owner_id=owner,
        title="t",
        upload=UploadRecord(
            key=f"originals/{video_id}/a.mp4",
            filename="a.mp4",
            content_type="video/mp4",
            size_bytes=size,
            method="PUT",
            expires_at=fields.pop("expires_at", NOW),
        ),
        charged=charged,
        created_at=created_at,
        updated_at=created_at,
        **fields,
    )


# --- VideoStore -----------------------------------------------------------------------------------------


@pytest.fixture(params=KINDS)
def videos(request: pytest.FixtureRequest) -> VideoStore:
    if request.param == "fake":
        return InMemoryVideos()
    request.getfixturevalue("moto")
    return VideoRepository("videos")


def test_a_record_reads_back_as_written(videos: VideoStore) -> None:
    video = record("v1", tags=["cats"], visibility=Visibility.PUBLIC)
    videos.create(video)
    assert videos.get("v1") == video
    assert videos.get("nope") is None


def test_a_save_is_conditional_on_the_version_read(videos: VideoStore) -> None:
    videos.create(record("v1"))
    first = videos.get("v1")
    assert first is not None
    videos.save(first.changed(title="new"), expected_version=1)
    with pytest.raises(VersionConflictError):
        videos.save(first.changed(title="stale"), expected_version=1)
    with pytest.raises(VersionConflictError):
        videos.save(record("missing").changed(), expected_version=1)
    stored = videos.get("v1")
    assert stored is not None
    assert (stored.title, stored.version) == ("new", 2)


def test_usage_moves_with_the_record_and_never_past_the_quota(videos: VideoStore) -> None:
    videos.create(record("v1", charged="reserved", size=3 * MIB), quota=5 * MIB)
    assert videos.usage("u1") == Usage(reserved=3 * MIB)
    with pytest.raises(OverQuotaError):
        videos.create(record("v2", charged="reserved", size=3 * MIB), quota=5 * MIB)
    assert videos.get("v2") is None
    assert videos.usage("u1") == Usage(reserved=3 * MIB)
    videos.create(record("v3", charged="reserved", size=2 * MIB), quota=5 * MIB)  # exactly up to it
    held = videos.get("v1")
    assert held is not None
    videos.save(held.changed(charged="stored"), expected_version=held.version, previous=held)
    assert videos.usage("u1") == Usage(reserved=2 * MIB, stored=3 * MIB)
    stored = videos.get("v1")
    assert stored is not None
    videos.save(stored.changed(title="x"), expected_version=stored.version)  # no `previous`: no move
    assert videos.usage("u1").used == 5 * MIB
    assert videos.usage("someone-else") == Usage()


def test_a_delete_releases_what_the_record_counts_and_is_conditional(videos: VideoStore) -> None:
    videos.create(record("v1", charged="reserved", size=MIB))
    video = videos.get("v1")
    assert video is not None
    videos.save(video.changed(title="newer"), expected_version=video.version)
    with pytest.raises(VersionConflictError):
        videos.delete(video)  # the version read is not the stored one
    newer = videos.get("v1")
    assert newer is not None
    videos.delete(newer)
    assert videos.get("v1") is None
    assert videos.usage("u1") == Usage()
    with pytest.raises(VersionConflictError):
        videos.delete(newer)  # already gone


def test_listings_are_newest_first_filtered_and_paged(videos: VideoStore) -> None:
    for n in range(5):
        videos.create(
            record(
                f"v{n}",
                created_at=f"2026-01-0{n + 1}T00:00:00.000Z",
                visibility=Visibility.PUBLIC if n % 2 == 0 else Visibility.PRIVATE,
                tags=[f"t{n % 2}"],
                status=Status.DELETING if n == 4 else Status.READY,
            )
        )
    videos.create(record("x", owner="u2", visibility=Visibility.PUBLIC))
    mine = videos.list_owned("u1", 10, None, {})
    assert [v.id for v in mine.items] == ["v4", "v3", "v2", "v1", "v0"]
    assert mine.next_cursor is None
    assert [v.id for v in videos.list_public(10, None, {}).items] == ["v2", "x", "v0"]  # not v4: deleting
    assert [v.id for v in videos.list_owned("u1", 10, None, {"tags": "t1"}).items] == ["v3", "v1"]
    private = videos.list_owned("u1", 10, None, {"visibility": Visibility.PRIVATE, "status": None})
    assert [v.id for v in private.items] == ["v3", "v1"]
    assert [v.id for v in videos.list_owned("u1", 10, None, {"status": Status.DELETING}).items] == ["v4"]
    first = videos.list_owned("u1", 2, None, {})
    assert [v.id for v in first.items] == ["v4", "v3"]
    assert first.next_cursor is not None
    rest = videos.list_owned("u1", 10, first.next_cursor, {})
    assert [v.id for v in rest.items] == ["v2", "v1", "v0"]


def test_overdue_uploads_are_the_awaited_ones_past_their_deadline(videos: VideoStore) -> None:
    videos.create(record("late", expires_at=NOW - 10))
    videos.create(record("on-time", expires_at=NOW + 10))
    videos.create(record("arrived", expires_at=NOW - 10, status=Status.UPLOADED))
    assert [v.id for v in videos.overdue_uploads(NOW)] == ["late"]


# --- UploadStorage -----------------------------------------------------------------------------------------


@dataclass
class UploadsUnderTest:
    store: UploadStorage
    put_object: Callable[[str, bytes, str], str]  # a client's PUT: the ETag
    put_part: Callable[[str, str, int, bytes], str]  # a client's part upload: the ETag


@pytest.fixture(params=KINDS)
def upload_store(request: pytest.FixtureRequest) -> UploadsUnderTest:
    if request.param == "fake":
        fake = InMemoryUploads("uploads")
        return UploadsUnderTest(
            fake,
            fake.put,
            lambda key, upload_id, number, body: fake.put_part(upload_id, number, body),
        )
    request.getfixturevalue("moto")
    s3 = boto3.client("s3")

    def put_object(key: str, body: bytes, content_type: str) -> str:
        return str(s3.put_object(Bucket="uploads", Key=key, Body=body, ContentType=content_type)["ETag"])

    def put_part(key: str, upload_id: str, number: int, body: bytes) -> str:
        return str(
            s3.upload_part(Bucket="uploads", Key=key, UploadId=upload_id, PartNumber=number, Body=body)[
                "ETag"
            ]
        )

    return UploadsUnderTest(UploadStore("uploads"), put_object, put_part)


def test_a_multipart_upload_lists_its_parts_and_assembles(upload_store: UploadsUnderTest) -> None:
    store, key = upload_store.store, "originals/v1/a.mp4"
    upload_id = store.start_multipart(key, "video/mp4")
    assert store.parts(key, upload_id) == []
    first = upload_store.put_part(key, upload_id, 1, b"a" * 5 * MIB)
    second = upload_store.put_part(key, upload_id, 2, b"b" * 10)
    assert [(p.part_number, p.etag, p.size) for p in store.parts(key, upload_id)] == [
        (1, first, 5 * MIB),
        (2, second, 10),
    ]
    store.complete(key, upload_id, [(2, second), (1, first)])
    found = store.head(key)
    assert found is not None
    assert (found.size, found.content_type) == (5 * MIB + 10, "video/mp4")
    with pytest.raises(ConflictError):
        store.parts(key, upload_id)  # no longer open
    assert store.abort(key, upload_id) is False


def test_an_abort_drops_an_open_upload_once(upload_store: UploadsUnderTest) -> None:
    store, key = upload_store.store, "originals/v1/a.mp4"
    upload_id = store.start_multipart(key, "video/mp4")
    assert store.abort(key, upload_id) is True
    assert store.abort(key, upload_id) is False
    with pytest.raises(ConflictError):
        store.parts(key, upload_id)
    assert store.head(key) is None


def test_objects_are_seen_deleted_and_deleted_by_prefix(upload_store: UploadsUnderTest) -> None:
    store = upload_store.store
    etag = upload_store.put_object("originals/v1/a.mp4", b"12345", "video/quicktime")
    upload_store.put_object("originals/v1/b.mp4", b"1", "video/mp4")
    upload_store.put_object("originals/v2/a.mp4", b"1", "video/mp4")
    found = store.head("originals/v1/a.mp4")
    assert found is not None
    assert (found.size, found.content_type, found.etag) == (5, "video/quicktime", etag)
    assert store.head("originals/v9/a.mp4") is None
    store.delete("originals/v1/b.mp4")
    store.delete("originals/v1/b.mp4")  # deleting what is gone is fine
    assert store.head("originals/v1/b.mp4") is None
    assert store.delete_prefix("originals/v1/") == 1
    assert store.delete_prefix("originals/v1/") == 0
    assert store.head("originals/v2/a.mp4") is not None


def test_presigned_urls_name_their_object(upload_store: UploadsUnderTest) -> None:
    store = upload_store.store
    url, headers = store.presign_put("originals/v1/a.mp4", "video/mp4", 2048, 3600)
    assert "originals/v1/a.mp4" in url
    assert headers == {"Content-Type": "video/mp4", "Content-Length": "2048"}
    upload_id = store.start_multipart("originals/v1/b.mp4", "video/mp4")
    part = store.presign_part("originals/v1/b.mp4", upload_id, 3, 1024, 3600)
    assert "originals/v1/b.mp4" in part
    assert "partNumber=3" in part
    assert f"uploadId={upload_id}" in part


# --- MediaStore ----------------------------------------------------------------------------------------------


@dataclass
class MediaUnderTest:
    store: MediaStore
    put: Callable[[str, bytes], None]
    keys: Callable[[str], list[str]]


@pytest.fixture(params=KINDS)
def media_store(request: pytest.FixtureRequest) -> MediaUnderTest:
    if request.param == "fake":
        fake = InMemoryMedia("media")

        def put_media(key: str, body: bytes) -> None:
            fake.put(key, body)

        return MediaUnderTest(fake, put_media, fake.keys)
    request.getfixturevalue("moto")
    s3 = boto3.client("s3")

    def keys(prefix: str) -> list[str]:
        listed = s3.list_objects_v2(Bucket="media", Prefix=prefix).get("Contents", [])
        return sorted(o["Key"] for o in listed)

    def put(key: str, body: bytes) -> None:
        s3.put_object(Bucket="media", Key=key, Body=body)

    return MediaUnderTest(S3MediaStore("media"), put, keys)


def test_media_is_copied_between_prefixes_and_deleted(media_store: MediaUnderTest) -> None:
    for name in ("master.m3u8", "240p/index.m3u8", "240p/seg_00000.ts"):
        media_store.put(f"hls/v1/{name}", name.encode())
    media_store.put("hls/v10/master.m3u8", b"another video")
    assert media_store.store.copy_prefix("hls/v1/", "public/hls/v1/") == 3
    assert media_store.keys("public/") == [
        "public/hls/v1/240p/index.m3u8",
        "public/hls/v1/240p/seg_00000.ts",
        "public/hls/v1/master.m3u8",
    ]
    assert media_store.store.copy_prefix("hls/v1/", "public/hls/v1/") == 3  # again: the same keys
    assert media_store.store.delete_prefix("hls/v1/") == 3
    assert media_store.keys("hls/") == ["hls/v10/master.m3u8"]
    assert media_store.store.copy_prefix("hls/nothing/", "public/hls/nothing/") == 0


# --- WorkflowStarter -------------------------------------------------------------------------------------------


@dataclass
class WorkflowUnderTest:
    starter: WorkflowStarter
    executions: Callable[[], list[tuple[str, dict[str, Any]]]]


@pytest.fixture(params=KINDS)
def workflow(request: pytest.FixtureRequest) -> WorkflowUnderTest:
    if request.param == "fake":
        fake = RecordingWorkflow()
        return WorkflowUnderTest(fake, lambda: sorted(fake.executions.items()))
    request.getfixturevalue("moto")
    sfn = boto3.client("stepfunctions")
    definition = json.dumps(
        {"StartAt": "Wait", "States": {"Wait": {"Type": "Wait", "Seconds": 600, "End": True}}}
    )
    arn = sfn.create_state_machine(
        name="video_delete", definition=definition, roleArn="arn:aws:iam::123456789012:role/sfn"
    )["stateMachineArn"]

    def executions() -> list[tuple[str, dict[str, Any]]]:
        found = []
        for listed in sfn.list_executions(stateMachineArn=arn)["executions"]:
            described = sfn.describe_execution(executionArn=listed["executionArn"])
            found.append((listed["name"], json.loads(described["input"])))
        return sorted(found)

    return WorkflowUnderTest(StepFunctionsStarter(arn), executions)


def test_a_workflow_is_started_once_per_name(workflow: WorkflowUnderTest) -> None:
    payload = {"video": {"id": "v1", "owner_id": "u1"}}
    workflow.starter.start("v1-v2", payload)
    workflow.starter.start("v1-v2", payload)  # a repeated DELETE: the same execution
    assert workflow.executions() == [("v1-v2", payload)]
    workflow.starter.start("v1-v4", payload)  # a new mark: a new run
    assert [name for name, _ in workflow.executions()] == ["v1-v2", "v1-v4"]


def test_an_unreachable_step_functions_is_a_retryable_dependency_error(moto: None) -> None:
    starter = StepFunctionsStarter(
        "arn:aws:states:us-east-1:123456789012:stateMachine:gone", "deleting the video"
    )
    with pytest.raises(DependencyUnavailableError, match="Could not start deleting the video"):
        starter.start("v1-v2", {"video": {"id": "v1", "owner_id": "u1"}})


# --- MediaSigner ---------------------------------------------------------------------------------------------


@pytest.fixture(params=KINDS)
def signer(request: pytest.FixtureRequest) -> MediaSigner:
    if request.param == "fake":
        return FakeSigner("https://cdn.test", now=NOW)
    request.getfixturevalue("moto")
    boto3.client("secretsmanager").create_secret(Name="media", SecretString=new_media_keys().to_json())
    return SecretsMediaSigner("media", "https://cdn.test/")


def test_public_media_is_plain_and_private_media_is_signed_for_six_hours(signer: MediaSigner) -> None:
    assert signer.public_prefix("public/hls/v1/") == "https://cdn.test/media/public/hls/v1/"
    signed = signer.sign_video("v1", now=NOW)
    assert signed.url.startswith("https://cdn.test/media/s/")
    assert signed.url.endswith("/hls/v1/")
    assert signed.expires_at == NOW + 6 * 3600


def test_the_real_signers_token_opens_its_video(moto: None) -> None:
    """What the fake's token cannot show: the adapter's is a real one (functions/shared/media_token.py)."""
    keys = new_media_keys()
    boto3.client("secretsmanager").create_secret(Name="media", SecretString=keys.to_json())
    signed = SecretsMediaSigner("media", "https://cdn.test").sign_video("v1", now=NOW)
    path = signed.url.removeprefix("https://cdn.test/media/s/")
    assert check(path + "master.m3u8", keys.keys, now=NOW) == "hls/v1/master.m3u8"
