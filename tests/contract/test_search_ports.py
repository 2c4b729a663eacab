"""One set of assertions for `IndexFiles`, run on the fake and on the S3 adapter (moto): the fake the
logic tier uses cannot drift from the adapter shipped."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from functions.search.models import Manifest
from functions.search.ports import IndexFiles
from functions.search.storage import S3IndexFiles
from functions.shared import aws
from functions.shared.errors import DependencyUnavailableError
from tests.fakes.search import MemoryIndexFiles


@pytest.fixture(params=["fake", "s3"])
def files(request: pytest.FixtureRequest) -> Iterator[IndexFiles]:
    if request.param == "fake":
        yield MemoryIndexFiles()
        return
    with mock_aws():
        aws.reset_clients()
        boto3.client("s3").create_bucket(Bucket="index")
        yield S3IndexFiles("index")
    aws.reset_clients()


def manifest(version: int, *names: str) -> Manifest:
    return Manifest(
        version=version, meta='{"segments": []}', files=names, documents=len(names), published_at="t"
    )


def test_nothing_is_published_at_first(files: IndexFiles) -> None:
    assert files.manifest() is None


def test_uploaded_files_come_back_byte_for_byte(files: IndexFiles, tmp_path: Path) -> None:
    (tmp_path / "a.idx").write_bytes(b"\x00\x01segment")
    files.upload("a.idx", tmp_path / "a.idx")
    files.download("a.idx", tmp_path / "copy")
    assert (tmp_path / "copy").read_bytes() == b"\x00\x01segment"


def test_the_published_manifest_is_the_current_one(files: IndexFiles, tmp_path: Path) -> None:
    (tmp_path / "a.idx").write_bytes(b"a")
    files.upload("a.idx", tmp_path / "a.idx")
    files.publish(manifest(1, "a.idx"))
    files.publish(manifest(2, "a.idx"))
    assert files.manifest() == manifest(2, "a.idx")


def test_downloading_a_missing_file_fails(files: IndexFiles, tmp_path: Path) -> None:
    with pytest.raises(DependencyUnavailableError):
        files.download("missing.idx", tmp_path / "x")
    assert not (tmp_path / "x").exists()
