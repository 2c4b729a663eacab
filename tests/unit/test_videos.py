"""The videos domain's pure parts: upload planning, cursors, and signing a media prefix (the signer on
moto's Secrets Manager)."""

from __future__ import annotations

import base64
import json

import boto3
import pytest
from moto import mock_aws

from functions.shared.errors import MalformedRequestError, PayloadTooLargeError, UnsupportedMediaTypeError
from functions.shared.media_token import TokenRejected, check, new_media_keys
from functions.videos import uploads
from functions.videos.dal import decode_cursor, encode_cursor
from functions.videos.models import CreateVideoRequest
from functions.videos.signing import MediaSigner

MIB = 2**20
NOW = 1_900_000_000


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
    nested = base64.urlsafe_b64encode(b"[" * 1400).decode()  # json.loads: RecursionError (was a 500)
    for garbage in ("!!!", "bm90IGpzb24=", "WzEsMl0=", nested):  # not base64; not JSON; JSON not a key
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


def test_a_signed_prefix_opens_its_video_only_and_is_built_from_configuration() -> None:
    keys = new_media_keys()
    with mock_aws():
        boto3.client("secretsmanager", region_name="us-east-1").create_secret(
            Name="media", SecretString=keys.to_json()
        )
        from functions.shared import aws

        aws.reset_clients()
        signed = MediaSigner("media", "https://cdn.test/").sign_video("v1", now=NOW)
    aws.reset_clients()
    prefix = "https://cdn.test/media/s/"
    assert signed.url.startswith(prefix)
    assert signed.url.endswith("/hls/v1/")
    assert signed.expires_at == NOW + 6 * 3600
    token_path = signed.url[len(prefix) :]
    for file in ("master.m3u8", "720p/index.m3u8", "720p/seg_00001.ts", "poster.jpg"):
        assert check(token_path + file, keys.keys, now=NOW) == f"hls/v1/{file}"
    with pytest.raises(TokenRejected):
        check(token_path.replace("/hls/v1/", "/hls/v2/") + "master.m3u8", keys.keys, now=NOW)
    with pytest.raises(TokenRejected):
        check(token_path + "master.m3u8", keys.keys, now=signed.expires_at)
