"""One set of assertions per port, run on the fake and on the adapter (moto): `IndexFiles` (S3) and
`JobStore` (DynamoDB). The fakes the logic tier uses cannot drift from the adapters shipped."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from functions.search.dal import DynamoJobStore
from functions.search.models import Algorithm, JobRecord, JobStatus, Manifest, SearchHit
from functions.search.ports import IndexFiles, JobStore
from functions.search.storage import S3IndexFiles
from functions.shared import aws
from functions.shared.errors import DependencyUnavailableError, MalformedRequestError
from infra.local.provision import _table_request
from infra.topology import TOPOLOGY
from tests.fakes.search import MemoryIndexFiles, MemoryJobStore


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


def test_stored_lists_every_file_with_when_it_was_written_and_delete_removes_them(
    files: IndexFiles, tmp_path: Path
) -> None:
    before = time.time() - 5  # S3's LastModified has second precision
    for name in ("a.idx", "b.idx", "c.idx"):
        (tmp_path / name).write_bytes(name.encode())
        files.upload(name, tmp_path / name)
    stored = dict(files.stored())
    assert sorted(stored) == ["a.idx", "b.idx", "c.idx"]
    assert all(before <= written <= time.time() + 5 for written in stored.values())
    files.delete(["a.idx", "c.idx", "never-there.idx"])
    assert [name for name, _ in files.stored()] == ["b.idx"]
    with pytest.raises(DependencyUnavailableError):
        files.download("a.idx", tmp_path / "gone")


# --- JobStore --------------------------------------------------------------------------------------------


@pytest.fixture(params=["fake", "dynamodb"])
def jobs(request: pytest.FixtureRequest) -> Iterator[JobStore]:
    if request.param == "fake":
        yield MemoryJobStore()
        return
    with mock_aws():
        aws.reset_clients()
        boto3.client("dynamodb").create_table(**_table_request(TOPOLOGY.table("search"), "search"))
        yield DynamoJobStore("search")
    aws.reset_clients()


def job(job_id: str, owner: str = "alice", n: int = 0, status: JobStatus = JobStatus.QUEUED) -> JobRecord:
    stamp = f"2026-11-30T00:00:{n:02d}.000Z"
    return JobRecord(
        job_id=job_id,
        owner_id=owner,
        query="volcano",
        algorithm=Algorithm.FUZZY,
        limit=10,
        status=status,
        created_at=stamp,
        updated_at=stamp,
        expires_at=1,
    )


def test_a_created_job_reads_back_equal(jobs: JobStore) -> None:
    created = job("j1").model_copy(
        update={"results": [SearchHit(video_id="v", title="Volcano", score=1.5, highlights=[])]}
    )
    jobs.create(created)
    assert jobs.get("j1") == created
    assert jobs.get("nope") is None


def test_replace_happens_only_from_an_expected_status(jobs: JobStore) -> None:
    jobs.create(job("j1"))
    running = job("j1", status=JobStatus.RUNNING)
    assert jobs.replace(running, frozenset({JobStatus.QUEUED}), attempt=1) is True
    assert (
        jobs.replace(job("j1", status=JobStatus.CANCELLED), frozenset({JobStatus.QUEUED}), attempt=1) is False
    )
    assert jobs.get("j1") == running
    assert (
        jobs.replace(job("ghost", status=JobStatus.RUNNING), frozenset({JobStatus.QUEUED}), attempt=1)
        is False
    )


def test_replace_refuses_a_writer_of_an_earlier_attempt(jobs: JobStore) -> None:
    """A worker still on attempt 1 must not overwrite the job a retry moved to attempt 2."""
    jobs.create(job("j1", status=JobStatus.RUNNING).model_copy(update={"attempts": 2}))
    done = job("j1", status=JobStatus.COMPLETED)
    assert jobs.replace(done, frozenset({JobStatus.RUNNING}), attempt=1) is False
    assert jobs.get("j1").attempts == 2  # type: ignore[union-attr]
    assert jobs.replace(done, frozenset({JobStatus.RUNNING}), attempt=2) is True
    assert jobs.get("ghost") is None


def test_listing_is_the_owners_newest_first_in_pages(jobs: JobStore) -> None:
    for n in range(5):
        jobs.create(job(f"a{n}", n=n))
    jobs.create(job("b0", owner="bob", n=9))
    seen, cursor = [], None
    while True:
        page, cursor = jobs.list_owned("alice", 2, cursor)
        seen += [j.job_id for j in page]
        if cursor is None:
            break
    assert seen == ["a4", "a3", "a2", "a1", "a0"]


def test_a_cursor_from_elsewhere_is_malformed(jobs: JobStore) -> None:
    for n in range(3):
        jobs.create(job(f"a{n}", n=n))
    _, cursor = jobs.list_owned("alice", 1, None)
    assert cursor is not None
    nested = base64.urlsafe_b64encode(b"[" * 1400).decode()  # json.loads: RecursionError (was a 500)
    for bad in ("not base64 !", "e30=", cursor + "x", nested):
        with pytest.raises(MalformedRequestError):
            jobs.list_owned("alice", 1, bad)
    with pytest.raises(MalformedRequestError):
        jobs.list_owned("bob", 1, cursor)  # alice's cursor on bob's listing
