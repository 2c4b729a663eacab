"""What only the S3 media store does (the rest is tests/contract/test_transcode_ports.py): the headers
players and the CDN need, kept by server-side copies, and deletes past DeleteObjects' 1,000 keys."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from functions.shared import aws
from functions.transcode.storage import DELETE_BATCH, S3MediaStore


@pytest.fixture
def store() -> Iterator[S3MediaStore]:
    with mock_aws():
        aws.reset_clients()
        for bucket in ("uploads", "media"):
            boto3.client("s3").create_bucket(Bucket=bucket)
        yield S3MediaStore("uploads", "media")
    aws.reset_clients()


def headers(key: str) -> tuple[str, str]:
    head = boto3.client("s3").head_object(Bucket="media", Key=key)
    return head["ContentType"], head["CacheControl"]


def test_outputs_carry_their_type_and_caching_and_copies_keep_them(
    store: S3MediaStore, tmp_path: Path
) -> None:
    for name in ("master.m3u8", "240p/seg_00000.ts", "poster.jpg", "storyboard.vtt"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    store.put_tree(tmp_path, "hls/v1/")
    assert headers("hls/v1/master.m3u8") == ("application/vnd.apple.mpegurl", "public, max-age=60")
    segment = ("video/mp2t", "public, max-age=31536000, immutable")
    assert headers("hls/v1/240p/seg_00000.ts") == segment
    assert headers("hls/v1/poster.jpg")[0] == "image/jpeg"
    assert headers("hls/v1/storyboard.vtt")[0] == "text/vtt"
    store.copy([("hls/v1/240p/seg_00000.ts", "public/hls/v1/240p/seg_00000.ts")])
    assert headers("public/hls/v1/240p/seg_00000.ts") == segment


def test_deletes_go_in_batches_deleteobjects_accepts(store: S3MediaStore) -> None:
    s3 = boto3.client("s3")
    keys = [f"hls/v1/240p/seg_{i:05d}.ts" for i in range(DELETE_BATCH + 5)]
    for key in keys:
        s3.put_object(Bucket="media", Key=key, Body=b"x")
    store.delete(keys)
    assert store.sizes("hls/") == {}


def test_a_growing_playlist_is_cached_for_a_second_and_the_final_one_for_a_minute(
    store: S3MediaStore, tmp_path: Path
) -> None:
    (tmp_path / "index.m3u8").write_text("#EXTM3U\n")
    (tmp_path / "seg_00000.ts").write_bytes(b"G" * 188)
    store.put_files([(tmp_path / "seg_00000.ts", "hls/v1/240p/seg_00000.ts")], live=True)
    store.put_files([(tmp_path / "index.m3u8", "hls/v1/240p/index.m3u8")], live=True)
    assert headers("hls/v1/240p/index.m3u8") == ("application/vnd.apple.mpegurl", "public, max-age=1")
    assert headers("hls/v1/240p/seg_00000.ts") == ("video/mp2t", "public, max-age=31536000, immutable")
    store.put_files([(tmp_path / "index.m3u8", "hls/v1/240p/index.m3u8")])
    assert headers("hls/v1/240p/index.m3u8") == ("application/vnd.apple.mpegurl", "public, max-age=60")
