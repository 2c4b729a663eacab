"""Presigned uploads locally are refused where S3 refuses them: wrong length, wrong type, expired, tampered.

moto checks no signature; the front door's S3 endpoint (infra/local/uploads.py) does, the way S3 does,
before moto gets the bytes. Every case goes through the front door with the URL the API handed out.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import boto3
import httpx
import pytest
from botocore.config import Config

from infra.local.cloud import LOCAL_CREDENTIALS, LocalCloud
from infra.local.names import REGION
from infra.local.uploads import PREFIX, public_endpoint
from tests.integration.conftest import User
from tests.integration.test_videos import MIB, create, objects, open_uploads, wait_status

pytestmark = pytest.mark.integration


def refused(response: httpx.Response, code: str) -> None:
    assert response.status_code == 403, response.text
    assert response.headers["content-type"].startswith("application/xml")
    assert f"<Code>{code}</Code>" in response.text


def with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    return urlunsplit(parts._replace(query=urlencode({**query, **changes})))


def test_upload_urls_point_at_the_front_door(http: httpx.Client, cloud: LocalCloud, user: User) -> None:
    """Not at moto's port, which changes on every start: at the front door's, under its own prefix."""
    url = create(http, user)["upload"]["url"]
    assert url.startswith(f"{cloud.url}{PREFIX}/{cloud.names.bucket('uploads')}/originals/")
    assert "X-Amz-Signature=" in url


def test_a_body_longer_than_signed_is_refused_and_nothing_lands(
    http: httpx.Client, cloud: LocalCloud, user: User
) -> None:
    """The report: 3.9 MB sent to a URL signed for 1 MiB was stored locally; S3 answers 403."""
    created = create(http, user, size=MIB)
    video_id, upload = created["video"]["id"], created["upload"]
    assert upload["headers"]["Content-Length"] == str(MIB)
    refused(
        httpx.put(upload["url"], content=b"v" * 3_900_000, headers={"Content-Type": "video/mp4"}),
        "SignatureDoesNotMatch",
    )
    refused(
        httpx.put(upload["url"], content=b"v" * (MIB - 1), headers={"Content-Type": "video/mp4"}),
        "SignatureDoesNotMatch",
    )
    # Content-Type is signed too.
    refused(
        httpx.put(upload["url"], content=b"v" * MIB, headers={"Content-Type": "video/webm"}),
        "SignatureDoesNotMatch",
    )
    assert objects(cloud, "uploads", f"originals/{video_id}/") == []
    # The file as declared is stored, and the pipeline goes on.
    stored = httpx.put(upload["url"], content=b"v" * MIB, headers=upload["headers"])
    assert stored.status_code == 200, stored.text
    assert stored.headers["etag"]
    wait_status(http, user, video_id, "uploaded")


def test_a_tampered_url_is_refused(http: httpx.Client, cloud: LocalCloud, user: User) -> None:
    first, second = create(http, user), create(http, user)
    upload = first["upload"]
    signature = dict(parse_qsl(urlsplit(upload["url"]).query))["X-Amz-Signature"]
    flipped = signature[:-1] + ("0" if signature[-1] != "0" else "1")
    refused(
        httpx.put(
            with_query(upload["url"], **{"X-Amz-Signature": flipped}),
            content=b"v" * 1000,
            headers=upload["headers"],
        ),
        "SignatureDoesNotMatch",
    )
    # One video's signature on another video's key.
    other_key = upload["url"].replace(first["video"]["id"], second["video"]["id"])
    refused(httpx.put(other_key, content=b"v" * 1000, headers=upload["headers"]), "SignatureDoesNotMatch")
    # A longer lifetime than was signed.
    refused(
        httpx.put(
            with_query(upload["url"], **{"X-Amz-Expires": "604800"}),
            content=b"v" * 1000,
            headers=upload["headers"],
        ),
        "SignatureDoesNotMatch",
    )
    # No signature at all.
    unsigned = urlunsplit(urlsplit(upload["url"])._replace(query=""))
    refused(httpx.put(unsigned, content=b"v" * 1000, headers=upload["headers"]), "AccessDenied")
    for video in (first, second):
        assert objects(cloud, "uploads", f"originals/{video['video']['id']}/") == []


def test_an_expired_url_is_refused(cloud: LocalCloud) -> None:
    session = boto3.session.Session(
        aws_access_key_id=LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        region_name=REGION,
    )
    presigner = session.client(
        "s3",
        endpoint_url=public_endpoint(cloud.url),
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    )
    key = f"originals/expired-{time.time_ns()}/clip.mp4"
    url = presigner.generate_presigned_url(
        "put_object",
        ExpiresIn=1,
        Params={
            "Bucket": cloud.names.bucket("uploads"),
            "Key": key,
            "ContentType": "video/mp4",
            "ContentLength": 10,
        },
    )
    time.sleep(2.1)
    response = httpx.put(url, content=b"v" * 10, headers={"Content-Type": "video/mp4"})
    refused(response, "AccessDenied")
    assert "Request has expired" in response.text
    assert objects(cloud, "uploads", key) == []


def test_a_multipart_part_of_another_length_is_refused(
    http: httpx.Client, cloud: LocalCloud, user: User
) -> None:
    size = 12 * MIB
    created = create(http, user, size=size)
    upload: dict[str, Any] = created["upload"]
    assert upload["method"] == "multipart"
    part_size, first = upload["part_size"], upload["parts"][0]
    assert "partNumber=1" in first["url"]
    assert "uploadId=" in first["url"]
    refused(httpx.put(first["url"], content=b"v" * (part_size + 1)), "SignatureDoesNotMatch")
    listed = cloud.aws.client("s3").list_parts(
        Bucket=cloud.names.bucket("uploads"),
        Key=open_uploads(cloud)[upload["upload_id"]],
        UploadId=upload["upload_id"],
    )
    assert listed.get("Parts", []) == []
    stored = httpx.put(first["url"], content=b"v" * part_size)
    assert stored.status_code == 200, stored.text
    assert stored.headers["etag"]


def test_browsers_get_the_uploads_buckets_cors(http: httpx.Client, cloud: LocalCloud, user: User) -> None:
    upload = create(http, user, size=1000)["upload"]
    origin = "https://app.example"
    preflight = httpx.options(
        upload["url"],
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "PUT",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert preflight.status_code == 200, preflight.text
    cors = cloud.topology.bucket("uploads").cors
    assert cors is not None
    assert preflight.headers["access-control-allow-origin"] == "*"
    assert "PUT" in preflight.headers["access-control-allow-methods"]
    assert preflight.headers["access-control-allow-headers"] == "content-type"
    assert preflight.headers["access-control-max-age"] == str(cors.max_age_s)
    not_allowed = httpx.options(
        upload["url"], headers={"Origin": origin, "Access-Control-Request-Method": "DELETE"}
    )
    assert not_allowed.status_code == 403
    stored = httpx.put(upload["url"], content=b"v" * 1000, headers={**upload["headers"], "Origin": origin})
    assert stored.status_code == 200, stored.text
    assert stored.headers["access-control-allow-origin"] == "*"
    assert "ETag" in stored.headers["access-control-expose-headers"]
    assert stored.headers["etag"]
