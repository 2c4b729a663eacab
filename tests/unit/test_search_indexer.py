"""The indexer's entry on moto: real stream records of the videos table (written by the videos domain's
own data access) become index versions on S3 that the search use case answers from."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from moto import mock_aws

from functions.search import indexer, wiring
from functions.search.logic import SearchService
from functions.search.models import Algorithm
from functions.search.replica import ReadReplica
from functions.search.storage import S3IndexFiles
from functions.shared import aws
from functions.videos.dal import VideoRepository, scan_videos
from functions.videos.models import Status
from infra.local.provision import _table_request
from infra.topology import TOPOLOGY
from tests.search_helpers import video

CONTEXT = SimpleNamespace(
    function_name="search-indexer",
    memory_limit_in_mb=1024,
    invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:search-indexer",
    aws_request_id="req",
)


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[SimpleNamespace]:
    monkeypatch.setenv("SEARCH_INDEX_BUCKET_NAME", "index")
    monkeypatch.setenv("VIDEOS_TABLE_NAME", "videos")
    for cached in (wiring.indexer_settings, wiring.indexer, wiring.catalogue, wiring._scratch):
        cached.cache_clear()
    with mock_aws():
        aws.reset_clients()
        ddb = boto3.client("dynamodb")
        ddb.create_table(**_table_request(TOPOLOGY.table("videos"), "videos"))
        boto3.client("s3").create_bucket(Bucket="index")
        seen: dict[tuple[str, str], dict[str, Any]] = {}
        sequence = iter(range(100, 10**6))

        def records() -> list[dict[str, Any]]:
            """What the table's stream (NEW_AND_OLD_IMAGES) carries for the writes since the last call,
            in Lambda's record shape (moto's in-process mock has no DescribeStream: the integration
            tests read the real stream through the local cloud)."""
            now = {(i["pk"]["S"], i["sk"]["S"]): i for i in ddb.scan(TableName="videos")["Items"]}
            out = []
            for key in sorted(set(seen) | set(now)):
                old, new = seen.get(key), now.get(key)
                if old == new:
                    continue
                image: dict[str, Any] = {"Keys": {"pk": {"S": key[0]}, "sk": {"S": key[1]}}}
                image["SequenceNumber"] = str(next(sequence))
                image["StreamViewType"] = "NEW_AND_OLD_IMAGES"
                if old is not None:
                    image["OldImage"] = old
                if new is not None:
                    image["NewImage"] = new
                name = "INSERT" if old is None else "REMOVE" if new is None else "MODIFY"
                out.append(
                    {
                        "eventID": image["SequenceNumber"],
                        "eventName": name,
                        "eventSource": "aws:dynamodb",
                        "dynamodb": image,
                    }
                )
            seen.clear()
            seen.update(now)
            return out

        yield SimpleNamespace(
            repo=VideoRepository("videos"),
            records=records,
            search=SearchService(ReadReplica(S3IndexFiles("index"), tmp_path / "reader", check_every_s=0)),
        )
    aws.reset_clients()
    for cached in (wiring.indexer_settings, wiring.indexer, wiring.catalogue, wiring._scratch):
        cached.cache_clear()


def found(world: SimpleNamespace, text: str, caller: str = "alice") -> list[str]:
    return [h.video_id for h in world.search.search(caller, text, Algorithm.FUZZY, 10).results]


def deliver(records: list[dict[str, Any]]) -> dict[str, Any]:
    return indexer.lambda_handler({"Records": records}, CONTEXT)  # type: ignore[arg-type]


def test_create_rename_and_delete_flow_from_the_stream_into_search(world: SimpleNamespace) -> None:
    clip = video("Harbour at dawn", owner="alice", video_id="v1")
    world.repo.create(clip, quota=10**9)  # with a quota: the usage item is written too, and ignored
    assert deliver(world.records()) == {"batchItemFailures": []}
    assert found(world, "harbour") == ["v1"]

    renamed = clip.changed(title="Harbor at dusk")
    world.repo.save(renamed, expected_version=clip.version)
    deliver(world.records())
    assert found(world, "dusk") == ["v1"]
    assert found(world, "dawn") == []

    deleting = renamed.changed(status=Status.DELETING)
    world.repo.save(deleting, expected_version=renamed.version)
    deliver(world.records())
    assert found(world, "dusk") == []  # the saga's first step hides it

    world.repo.delete(deleting)
    assert deliver(world.records()) == {"batchItemFailures": []}
    assert found(world, "dusk") == []


def test_a_record_that_is_not_a_video_is_reported_and_the_others_are_applied(world: SimpleNamespace) -> None:
    world.repo.create(video("Good one", owner="alice", video_id="good"))
    records = world.records()
    broken = {**records[0], "dynamodb": {**records[0]["dynamodb"], "SequenceNumber": "999"}}
    broken["dynamodb"]["NewImage"] = {**broken["dynamodb"]["NewImage"], "title": {"N": "1"}}
    del broken["dynamodb"]["NewImage"]["owner_id"]
    response = deliver([broken, *records])
    assert response == {"batchItemFailures": [{"itemIdentifier": "999"}]}
    assert found(world, "good") == ["good"]


def test_a_rebuild_reads_the_table_through_the_videos_data_access(world: SimpleNamespace) -> None:
    for n in range(7):
        world.repo.create(video(f"Lighthouse {n}", owner="alice", video_id=f"l{n}"))
    assert len(list(scan_videos("videos", page_size=3))) == 7  # pages are followed
    assert indexer.lambda_handler({"action": "reindex"}, CONTEXT) == {"documents": 7}  # type: ignore[arg-type]
    assert sorted(found(world, "lighthouse")) == [f"l{n}" for n in range(7)]
