"""Direct uploads against moto (mock_aws), the upload store adapter through the service: presigned URLs
bind the declared length and type (SigV4), each part URL binds that part's exact length. Aborting, resuming
and completing as use cases are in tests/logic/test_videos_service.py."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import botocore.auth
import pytest
from botocore.config import Config

from functions.shared.principal import Caller
from functions.videos import uploads
from functions.videos.dal import VideoRepository
from functions.videos.logic import VideoService
from functions.videos.models import CreateVideoRequest
from functions.videos.storage import UploadStore
from functions.videos.uploads import UploadLimits
from tests.fakes.videos import VideosWorld

MIB = 2**20
NOW = 1_800_000_000  # the service's clock, fixed so URL expiries are known
SIGNED_AT = dt.datetime(2027, 1, 15, 12, 0, 0, tzinfo=dt.UTC)  # the signer's clock, fixed likewise
OWNER = Caller("owner", frozenset({"videos:write"}), "jwt")
STRANGER = Caller("stranger", frozenset({"videos:write"}), "jwt")
# As the integration topology: a single PUT up to 6 MiB, then 5 MiB parts (S3's minimum).
LIMITS = UploadLimits(single_put_max_bytes=6 * MIB, min_part_bytes=5 * MIB)


@pytest.fixture
def service(videos_aws: None, monkeypatch: pytest.MonkeyPatch) -> VideoService:
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: SIGNED_AT)
    world = VideosWorld(now=NOW)
    return VideoService(
        VideoRepository("videos"),
        UploadStore("uploads"),
        world.events,
        LIMITS,
        delete_workflow=world.workflow,
        signer=world.signer,
        clock=lambda: NOW,
    )


def create(service: VideoService, size: int, content_type: str = "video/mp4") -> Any:
    body = {"title": "t", "upload": {"filename": "a.mp4", "content_type": content_type, "size_bytes": size}}
    return service.create(CreateVideoRequest.model_validate(body), OWNER)


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def reference_url(operation: str, **params: Any) -> str:
    """The URL a plain SigV4 client signs for exactly these parameters, at the same instant."""
    s3 = boto3.client("s3", config=Config(signature_version="s3v4"))
    url: str = s3.generate_presigned_url(
        operation, Params={"Bucket": "uploads", **params}, ExpiresIn=uploads.UPLOAD_WINDOW_S
    )
    return url


def stored_version(video_id: str) -> tuple[str, int]:
    video = VideoRepository("videos").get(video_id)
    assert video is not None
    return video.status.value, video.version


def open_uploads() -> list[str]:
    listed = boto3.client("s3").list_multipart_uploads(Bucket="uploads").get("Uploads", [])
    return [u["UploadId"] for u in listed]


# --- signing ---------------------------------------------------------------------------------------------


def test_the_single_put_url_is_sigv4_and_signs_length_and_type(service: VideoService) -> None:
    created = create(service, 2048, "video/quicktime")
    upload = created.upload
    assert upload.method == "PUT"
    signed = query(upload.url)
    assert signed["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256"
    assert {"content-length", "content-type"} <= set(signed["X-Amz-SignedHeaders"].split(";"))
    assert upload.headers == {"Content-Type": "video/quicktime", "Content-Length": "2048"}
    key = f"originals/{created.video.id}/a.mp4"
    # The signature is over these exact values: another length or type is another signature.
    same = reference_url("put_object", Key=key, ContentType="video/quicktime", ContentLength=2048)
    longer = reference_url("put_object", Key=key, ContentType="video/quicktime", ContentLength=2049)
    other_type = reference_url("put_object", Key=key, ContentType="video/mp4", ContentLength=2048)
    assert signed["X-Amz-Signature"] == query(same)["X-Amz-Signature"]
    assert signed["X-Amz-Signature"] not in {
        query(longer)["X-Amz-Signature"],
        query(other_type)["X-Amz-Signature"],
    }


def test_each_part_url_signs_that_parts_exact_length(service: VideoService) -> None:
    size = 12 * MIB + 123
    created = create(service, size)
    upload = created.upload
    assert (upload.method, upload.part_size) == ("multipart", 5 * MIB)
    assert upload.parts is not None
    assert [p.part_number for p in upload.parts] == [1, 2, 3]
    key = f"originals/{created.video.id}/a.mp4"
    expected = {1: 5 * MIB, 2: 5 * MIB, 3: 2 * MIB + 123}  # the last part holds the rest
    for part in upload.parts:
        signed = query(part.url)
        assert "content-length" in signed["X-Amz-SignedHeaders"].split(";")

        def signature(length: int, number: int = part.part_number) -> str:
            url = reference_url(
                "upload_part", Key=key, UploadId=upload.upload_id, PartNumber=number, ContentLength=length
            )
            return query(url)["X-Amz-Signature"]

        assert signed["X-Amz-Signature"] == signature(expected[part.part_number])
        assert signed["X-Amz-Signature"] != signature(expected[part.part_number] + 1)


def test_resume_urls_bind_the_same_lengths(service: VideoService) -> None:
    created = create(service, 12 * MIB)
    first = created.upload.parts
    progress = service.upload_progress(created.video.id, OWNER)
    assert [(p.part_number, p.url) for p in progress.missing] == [(p.part_number, p.url) for p in first]


@pytest.mark.parametrize(
    ("size", "part", "lengths"),
    [
        (15 * MIB, 5 * MIB, [5 * MIB, 5 * MIB, 5 * MIB]),
        (15 * MIB + 1, 5 * MIB, [5 * MIB, 5 * MIB, 5 * MIB, 1]),
        (7, 16, [7]),
    ],
)
def test_part_lengths_cover_the_file_exactly(size: int, part: int, lengths: list[int]) -> None:
    assert [uploads.part_length(size, part, n) for n in range(1, len(lengths) + 1)] == lengths
    with pytest.raises(ValueError, match="not one of"):
        uploads.part_length(size, part, len(lengths) + 1)
    with pytest.raises(ValueError, match="not one of"):
        uploads.part_length(size, part, 0)
