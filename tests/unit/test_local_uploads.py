"""The local S3 endpoint's checks against URLs presigned by botocore, at a fixed clock."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.config import Config
from botocore.credentials import Credentials

from infra.local.uploads import RefusedError, SignedRequest, cors_headers, verify
from infra.model import Cors

CREDENTIALS = Credentials("skyreel-local", "skyreel-local")
HOST = "127.0.0.1:8000"


def presign(expires_s: int = 60, **params: object) -> tuple[str, str, dt.datetime]:
    """A presigned PUT (path, query) and when it was signed."""
    client = boto3.session.Session(
        aws_access_key_id=CREDENTIALS.access_key,
        aws_secret_access_key=CREDENTIALS.secret_key,
        region_name="us-east-1",
    ).client(
        "s3",
        endpoint_url=f"http://{HOST}/_s3",
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    )
    signed_at = dt.datetime.now(dt.UTC)
    url = client.generate_presigned_url(
        "put_object",
        ExpiresIn=expires_s,
        Params={"Bucket": "skyreel-uploads", "Key": "originals/v1/clip.mp4", **params},
    )
    parts = urlsplit(url)
    return parts.path, parts.query, signed_at


def check(path: str, query: str, headers: dict[str, str], at: dt.datetime) -> None:
    request = SignedRequest("PUT", HOST, path, query, [("host", HOST), *headers.items()])
    verify(request, CREDENTIALS, "us-east-1", at)


def refused_with(code: str, path: str, query: str, headers: dict[str, str], at: dt.datetime) -> str:
    with pytest.raises(RefusedError) as refused:
        check(path, query, headers, at)
    assert refused.value.code == code
    return refused.value.message


SIGNED = {"ContentType": "video/mp4", "ContentLength": 1048576}
SENT = {"content-type": "video/mp4", "content-length": "1048576"}


def test_the_request_as_signed_is_accepted() -> None:
    path, query, at = presign(**SIGNED)
    check(path, query, SENT, at)


@pytest.mark.parametrize(
    "headers",
    [
        {**SENT, "content-length": "3900000"},
        {**SENT, "content-length": "1048575"},
        {**SENT, "content-type": "video/webm"},
        {"content-length": "1048576"},  # a signed header left out
    ],
    ids=["longer", "shorter", "other-type", "missing-type"],
)
def test_a_request_other_than_signed_does_not_match(headers: dict[str, str]) -> None:
    path, query, at = presign(**SIGNED)
    refused_with("SignatureDoesNotMatch", path, query, headers, at)


def test_another_key_or_a_mangled_signature_does_not_match() -> None:
    path, query, at = presign(**SIGNED)
    refused_with("SignatureDoesNotMatch", path.replace("/v1/", "/v2/"), query, SENT, at)
    refused_with("SignatureDoesNotMatch", path, query + "%C3%A9", SENT, at)  # not even ASCII


def test_expiry_counts_from_the_signing_date() -> None:
    path, query, at = presign(expires_s=60, **SIGNED)
    check(path, query, SENT, at + dt.timedelta(seconds=59))
    message = refused_with("AccessDenied", path, query, SENT, at + dt.timedelta(seconds=62))
    assert message == "Request has expired"
    assert refused_with("AccessDenied", path, query, SENT, at - dt.timedelta(minutes=20)) == (
        "Request is not yet valid"
    )


def test_another_access_key_and_unsigned_amz_headers_are_refused() -> None:
    path, query, at = presign(**SIGNED)
    refused_with("InvalidAccessKeyId", path, query.replace("skyreel-local", "someone-else"), SENT, at)
    refused_with("AccessDenied", path, query, {**SENT, "x-amz-acl": "public-read"}, at)
    no_signature = "&".join(p for p in query.split("&") if not p.startswith("X-Amz-Signature"))
    refused_with("AccessDenied", path, no_signature, SENT, at)


def test_cors_follows_the_bucket_rule() -> None:
    cors = Cors(allowed_methods=("PUT", "GET"), exposed_headers=("ETag",))
    headers = cors_headers(cors, "https://app.example", "PUT")
    assert headers["access-control-allow-origin"] == "*"
    assert headers["access-control-expose-headers"] == "ETag"
    assert cors_headers(cors, "https://app.example", "DELETE") == {}
    assert cors_headers(cors, None, "PUT") == {}
    assert cors_headers(Cors(allowed_origins=("https://a.example",)), "https://b.example", "GET") == {}
