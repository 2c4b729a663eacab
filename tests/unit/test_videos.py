"""The videos domain's pure parts: upload planning, cursors, and signing a media prefix."""

from __future__ import annotations

import base64
import datetime as dt
import json
from urllib.parse import urlsplit

import boto3
import pytest
from moto import mock_aws

from functions.shared.errors import MalformedRequestError, PayloadTooLargeError, UnsupportedMediaTypeError
from functions.shared.keyset import load_private_key
from functions.videos import uploads
from functions.videos.dal import decode_cursor, encode_cursor
from functions.videos.media import prefix_for
from functions.videos.models import CreateVideoRequest, Visibility
from functions.videos.signing import MediaSigner
from infra.local.provision import generate_secret_value
from infra.local.signing import SignatureRejected, Verifier, from_request, key_id_for
from infra.model import Secret, SecretKind

MIB = 2**20


@pytest.mark.parametrize(
    ("size", "method", "part", "count"),
    [
        (1, "PUT", None, None),
        (100 * MIB, "PUT", None, None),
        (100 * MIB + 1, "multipart", 16 * MIB, 7),
        (500 * MIB, "multipart", 16 * MIB, 32),
        (1024 * 1024 * MIB, "multipart", 105 * MIB, 9987),
    ],
)
def test_upload_plans(size: int, method: str, part: int | None, count: int | None) -> None:
    plan = uploads.plan(size)
    assert (plan.method, plan.part_size, plan.part_count) == (method, part, count)
    if plan.part_count:
        assert plan.part_count <= uploads.MAX_PARTS


def test_a_tiny_configured_part_size_still_respects_s3s_minimum() -> None:
    plan = uploads.plan(12 * MIB, uploads.UploadLimits(single_put_max_bytes=MIB, min_part_bytes=MIB))
    assert plan.part_size == 5 * MIB


def test_only_videos_within_the_limit_are_accepted() -> None:
    uploads.check("video/mp4", 10, 100)
    uploads.check("video/quicktime; charset=binary", 10, 100)
    with pytest.raises(UnsupportedMediaTypeError):
        uploads.check("application/pdf", 10, 100)
    with pytest.raises(PayloadTooLargeError):
        uploads.check("video/mp4", 101, 100)


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("My Clip (1).mp4", "My-Clip-1-.mp4"),
        ("../../etc/passwd", "passwd"),
        ("C:\\videos\\a b.mov", "a-b.mov"),
        ("....", "upload"),
        ("🎬.mp4", "mp4"),
    ],
)
def test_filenames_become_safe_keys(name: str, safe: str) -> None:
    assert uploads.safe_filename(name) == safe
    assert uploads.video_id_from_key(uploads.original_key("abc", name)) == "abc"


def test_tags_are_normalised_and_bounded() -> None:
    body = {
        "title": "t",
        "tags": [" Cats", "cats", "DOGS", ""],
        "upload": {"filename": "a.mp4", "content_type": "video/mp4", "size_bytes": 1},
    }
    assert CreateVideoRequest.model_validate(body).tags == ["cats", "dogs"]
    with pytest.raises(ValueError, match="40"):
        CreateVideoRequest.model_validate({**body, "tags": ["x" * 41]})


KEY = {"pk": {"S": "VIDEO#1"}, "sk": {"S": "VIDEO"}, "gsi1pk": {"S": "OWNER#u"}, "gsi1sk": {"S": "2026#1"}}


def _cursor(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode()


def test_cursors_round_trip_and_refuse_garbage() -> None:
    assert decode_cursor(encode_cursor(KEY), "gsi1", "OWNER#u") == KEY
    assert decode_cursor(None, "gsi1", "OWNER#u") is None
    for garbage in ("!!!", "bm90IGpzb24=", "WzEsMl0="):  # not base64; not JSON; JSON but not a key
        with pytest.raises(MalformedRequestError):
            decode_cursor(garbage, "gsi1", "OWNER#u")


FORGED = {
    "another owner's key": {**KEY, "gsi1pk": {"S": "OWNER#someone-else"}},
    "keys that are not ours": {**KEY, "secret": {"S": "x"}},
    "a key missing": {k: v for k, v in KEY.items() if k != "gsi1sk"},
    "a number for a string": {**KEY, "pk": {"N": "1"}},
    "a list for an attribute": {**KEY, "sk": ["VIDEO"]},
    "two types": {**KEY, "pk": {"S": "VIDEO#1", "N": "1"}},
    "another index's keys": {
        "pk": KEY["pk"],
        "sk": KEY["sk"],
        "gsi2pk": {"S": "PUBLIC"},
        "gsi2sk": {"S": "x#1"},
    },
    "another item kind": {**KEY, "sk": {"S": "USAGE"}},
    "an index key of another video": {**KEY, "gsi1sk": {"S": "2026#2"}},
}


@pytest.mark.parametrize("forged", FORGED.values(), ids=FORGED.keys())
def test_a_forged_but_well_formed_cursor_is_refused(forged: dict[str, object]) -> None:
    with pytest.raises(MalformedRequestError):
        decode_cursor(_cursor(forged), "gsi1", "OWNER#u")


def test_media_prefix_follows_visibility() -> None:
    assert prefix_for("v1", Visibility.PUBLIC) == "public/hls/v1/"
    assert prefix_for("v1", Visibility.UNLISTED) == "hls/v1/"
    assert prefix_for("v1", Visibility.PRIVATE) == "hls/v1/"


def test_a_signed_prefix_verifies_for_its_files_only() -> None:
    pem = generate_secret_value(Secret("k", "media key", SecretKind.RSA_2048))
    public = load_private_key(pem).public_key()
    with mock_aws():
        boto3.client("secretsmanager").create_secret(Name="media", SecretString=pem)
        from functions.shared import aws

        aws.reset_clients()
        access = MediaSigner("media", key_id_for(public)).sign_prefix("https://cdn.test/media/hls/v1/")
    verifier = Verifier({key_id_for(public): public})
    now = dt.datetime.now(dt.UTC).timestamp()

    def check(url: str, cookies: dict[str, str] | None = None) -> None:
        parts = urlsplit(url)
        verifier.verify(
            from_request(parts.scheme, parts.netloc, parts.path, parts.query, cookies or {}, "1.2.3.4"),
            now=now,
        )

    check(f"https://cdn.test/media/hls/v1/720p/seg_00001.ts?{access.query}")
    check("https://cdn.test/media/hls/v1/master.m3u8", access.cookies)
    with pytest.raises(SignatureRejected):
        check(f"https://cdn.test/media/hls/v2/master.m3u8?{access.query}")
    assert access.expires_at > dt.datetime.now(dt.UTC) + dt.timedelta(hours=5)
