"""Attempts: the publish run that claimed a video owns it. A run superseded by a newer one (the owner
cancelled, retried, and the retry was claimed before the old run noticed) stops, and its MarkReady and
MarkFailed change nothing: not the record, not the shared output prefix. Also the Claim step's Catch,
run through the shipped workflow definition. Against moto, with the real videos service for cancel and
retry (full-record writes, as the API makes them)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from functions.shared import aws
from functions.shared.errors import DependencyUnavailableError
from functions.shared.events import EventPublisher
from functions.shared.principal import Caller
from functions.transcode.progress import ProgressReporter
from functions.transcode.records import RepositoryRunRecords
from functions.videos import publishing, wiring
from functions.videos.dal import VideoRepository
from functions.videos.logic import GENERIC_FAILURE, Publishing, VideoService
from functions.videos.models import Status, UpdateVideoRequest, UploadRecord, VideoRecord
from functions.videos.storage import MediaStore, UploadStore
from functions.videos.uploads import UploadLimits
from infra.local.provision import _table_request
from infra.topology import TOPOLOGY
from tests.fakes.shared import RecordingEvents
from tests.fakes.videos import FakeSigner, RecordingCache, RecordingWorkflow

ROOT = Path(__file__).resolve().parents[2]
OWNER = Caller("owner", frozenset({"videos:write"}), "jwt")
ETAG = '"e1"'
PREFIX = "hls/v1/"
KEY = {"pk": {"S": "VIDEO#v1"}, "sk": {"S": "VIDEO"}}
OUTPUT = {"media_prefix": PREFIX, "duration_s": 2.0, "width": 426, "height": 240, "renditions": []}


@dataclass
class World:
    publishing: Publishing
    service: VideoService
    queue_url: str


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    for name, value in {
        "VIDEOS_TABLE_NAME": "videos",
        "MEDIA_BUCKET_NAME": "media",
        "UPLOADS_BUCKET_NAME": "uploads",
        "EVENTS_EVENT_BUS_NAME": "bus",
        "CDN_DISTRIBUTION_ID": "local-no-cache",
    }.items():
        monkeypatch.setenv(name, value)
    wiring.reset()
    with mock_aws():
        aws.reset_clients()
        boto3.client("dynamodb").create_table(**_table_request(TOPOLOGY.table("videos"), "videos"))
        s3 = boto3.client("s3")
        for bucket in ("uploads", "media"):
            s3.create_bucket(Bucket=bucket)
        s3.put_object(Bucket="uploads", Key="originals/v1/clip.mp4", Body=b"the original")
        events, sqs = boto3.client("events"), boto3.client("sqs")
        events.create_event_bus(Name="bus")
        url = sqs.create_queue(QueueName="seen")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events.put_rule(
            Name="all", EventBusName="bus", EventPattern=json.dumps({"source": ["skyreel.videos"]})
        )
        events.put_targets(Rule="all", EventBusName="bus", Targets=[{"Id": "q", "Arn": arn}])
        repo = VideoRepository("videos")
        repo.create(
            VideoRecord(
                id="v1",
                owner_id=OWNER.user_id,
                title="clip",
                status=Status.UPLOADED,
                source_etag=ETAG,
                upload=UploadRecord(
                    key="originals/v1/clip.mp4",
                    filename="clip.mp4",
                    content_type="video/mp4",
                    size_bytes=12,
                    method="PUT",
                    expires_at=2_000_000_000,
                ),
                created_at="2026-01-01T00:00:00.000Z",
                updated_at="2026-01-01T00:00:00.000Z",
            )
        )
        publisher = EventPublisher("bus")
        yield World(
            Publishing(repo, MediaStore("media"), publisher, RecordingCache()),
            VideoService(
                repo,
                UploadStore("uploads"),
                publisher,
                UploadLimits(),
                delete_workflow=RecordingWorkflow(),
                signer=FakeSigner(),
            ),
            url,
        )
    aws.reset_clients()
    wiring.reset()


def record() -> dict[str, Any]:
    return boto3.client("dynamodb").get_item(TableName="videos", Key=KEY, ConsistentRead=True)["Item"]  # type: ignore[no-any-return]


def media() -> dict[str, bytes]:
    s3 = boto3.client("s3")
    listed = s3.list_objects_v2(Bucket="media", Prefix=PREFIX).get("Contents", [])
    return {o["Key"]: s3.get_object(Bucket="media", Key=o["Key"])["Body"].read() for o in listed}


def write_output(run: str) -> None:
    for name in ("master.m3u8", "240p/index.m3u8", "240p/seg_00000.ts"):
        boto3.client("s3").put_object(Bucket="media", Key=PREFIX + name, Body=f"{run} {name}".encode())


def announced(queue_url: str) -> list[str]:
    sqs, seen = boto3.client("sqs"), []
    while messages := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages"):
        for message in messages:
            seen.append(json.loads(message["Body"])["detail-type"])
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return seen


def reporter(attempt: str) -> ProgressReporter:
    """The transcoder's progress and stop check for the run `attempt`, on the real records adapter."""
    return ProgressReporter(RepositoryRunRecords(VideoRepository("videos")), RecordingEvents(), "v1", attempt)


def should_stop(attempt: str) -> bool:
    return reporter(attempt).should_stop()


def test_a_run_superseded_by_a_retry_changes_nothing(world: World) -> None:
    assert world.publishing.claim("v1", ETAG, "run-a")["attempt"] == "run-a"
    write_output("run-a")  # run A is part-way through writing hls/v1/
    world.service.cancel_transcode("v1", OWNER)
    world.service.retry_transcode("v1", OWNER)
    # Claimed again before run A noticed the cancel: the status is `processing` again, as for run A.
    assert world.publishing.claim("v1", ETAG, "run-b")["claimed"]
    write_output("run-b")
    assert should_stop("run-a")
    assert not should_stop("run-b")
    before, files = record(), media()
    assert before["status"] == {"S": "processing"}
    assert before["attempt"] == {"S": "run-b"}

    # Run A, stopped, ends in MarkFailed; or had it finished, MarkReady.
    failure = {"Error": "EncodeCancelled", "Cause": "{}"}
    assert world.publishing.mark_failed("v1", PREFIX, failure, attempt="run-a") == "superseded"
    assert world.publishing.mark_ready("v1", OUTPUT, attempt="run-a") == "superseded"
    assert record() == before
    assert media() == files  # run B's files: not deleted, not touched

    assert world.publishing.mark_ready("v1", OUTPUT, attempt="run-b") == "ready"
    ready = record()
    assert (ready["status"], ready["attempt"]) == ({"S": "ready"}, {"S": "run-b"})
    # Run A's steps arriving even later still leave the ready video alone.
    assert world.publishing.mark_failed("v1", PREFIX, failure, attempt="run-a") == "superseded"
    assert world.publishing.mark_ready("v1", OUTPUT, attempt="run-a") == "superseded"
    assert record() == ready
    assert media() == files
    assert announced(world.queue_url).count("video.failed") == 0


def test_a_run_that_saw_itself_superseded_changes_nothing_even_once_the_token_is_gone(world: World) -> None:
    world.publishing.claim("v1", ETAG, "run-a")
    world.service.cancel_transcode("v1", OWNER)
    world.service.retry_transcode("v1", OWNER)
    world.publishing.claim("v1", ETAG, "run-b")
    write_output("run-b")
    old = reporter("run-a")
    assert old.should_stop()
    assert old.superseded  # so the transcoder fails with SupersededError
    # The owner edits the title meanwhile: the API's full-record write keeps the newer run's attempt.
    world.service.update("v1", UpdateVideoRequest(title="renamed"), OWNER)
    assert record()["attempt"] == {"S": "run-b"}
    before, files = record(), media()
    superseded = {"Error": "SupersededError", "Cause": json.dumps({"errorType": "SupersededError"})}
    assert world.publishing.mark_failed("v1", PREFIX, superseded, attempt="run-a") == "superseded"
    assert record() == before
    assert media() == files


def test_a_cancelled_run_that_nobody_superseded_cleans_up_and_keeps_the_reason(world: World) -> None:
    world.publishing.claim("v1", ETAG, "run-a")
    write_output("run-a")
    world.service.cancel_transcode("v1", OWNER)
    assert should_stop("run-a")
    failure = {"Error": "EncodeCancelled", "Cause": "{}"}
    assert world.publishing.mark_failed("v1", PREFIX, failure, attempt="run-a") == "left failed"
    assert media() == {}
    assert record()["error"] == {"S": "Processing was cancelled by its owner."}


def test_a_failed_run_removes_its_output_and_fails_the_video(world: World) -> None:
    world.publishing.claim("v1", ETAG, "run-a")
    write_output("run-a")
    failure = {"Error": "EncodeError", "Cause": "{}"}
    assert world.publishing.mark_failed("v1", PREFIX, failure, attempt="run-a") == "failed"
    assert media() == {}
    assert record()["status"] == {"S": "failed"}
    assert "video.failed" in announced(world.queue_url)


def test_retried_steps_of_the_same_run_are_idempotent(world: World) -> None:
    first = world.publishing.claim("v1", ETAG, "run-a")
    assert world.publishing.claim("v1", ETAG, "run-a") == first  # a Claim whose first write landed
    assert not world.publishing.claim("v1", ETAG, "run-z")["claimed"]  # a duplicate event's run
    write_output("run-a")
    assert world.publishing.mark_ready("v1", OUTPUT, attempt="run-a") == "ready"
    assert world.publishing.mark_ready("v1", OUTPUT, attempt="run-a") == "ready"
    # MarkReady's write landed but the step failed after it (say, publishing video.ready): MarkFailed
    # must not delete what the ready video plays.
    failure = {"Error": "DependencyUnavailableError", "Cause": "{}"}
    assert world.publishing.mark_failed("v1", PREFIX, failure, attempt="run-a") == "left ready"
    assert len(media()) == 3
    assert announced(world.queue_url).count("video.ready") == 1


# --- the Claim step's Catch, through the shipped definition --------------------------------------------


class LambdaContext:
    function_name = "skyreel-videos-publish-steps"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:skyreel-videos-publish-steps"
    aws_request_id = "req-1"


def _path(data: Any, path: str) -> Any:
    for part in path.removeprefix("$").strip(".").split("."):
        if part:
            data = data[part]
    return data


def _parameters(template: dict[str, Any], state: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
    resolved = {}
    for name, value in template.items():
        if name.endswith(".$"):
            resolved[name[:-2]] = _path(context, value[1:]) if value.startswith("$$") else _path(state, value)
        else:
            resolved[name] = value
    return resolved


def run_publish_until_task_other_than_publish_steps(event: dict[str, Any], execution_id: str) -> list[str]:
    """Run the shipped publish definition in this process as far as its record steps go: Task states
    of the publish-steps function invoke the real handler, a failed task follows its Catch (retries are
    skipped: the failure here is injected and permanent), Pass and Choice are evaluated."""
    definition = json.loads((ROOT / "infra/workflows/publish.asl.json").read_text())
    context = {"Execution": {"Id": execution_id}}
    state, name, visited = dict(event), definition["StartAt"], []
    while True:
        visited.append(name)
        spec = definition["States"][name]
        if spec["Type"] in {"Succeed", "Fail"}:
            return visited
        if spec["Type"] == "Choice":
            rule = spec["Choices"][0]
            name = (
                rule["Next"] if _path(state, rule["Variable"]) == rule["BooleanEquals"] else spec["Default"]
            )
            continue
        if spec["Type"] == "Task" and spec["Resource"] != "${fn_videos_publish_steps}":
            return visited  # the transcoder: not this test's business
        payload = _parameters(spec["Parameters"], state, context)
        if spec["Type"] == "Pass":
            result = payload
        else:
            try:
                result = publishing.lambda_handler(payload, LambdaContext())  # type: ignore[arg-type]
            except Exception as exc:  # Step Functions catches any task error
                catch = next(c for c in spec.get("Catch", []) if "States.ALL" in c["ErrorEquals"])
                error = {"Error": type(exc).__name__, "Cause": json.dumps({"errorMessage": str(exc)})}
                state = {**state, catch["ResultPath"].removeprefix("$."): error}
                name = catch["Next"]
                continue
        if spec.get("ResultPath", "$") is not None:
            state = {**state, spec["ResultPath"].removeprefix("$."): result}
        name = spec["Next"]


def uploaded_event() -> dict[str, Any]:
    return {"detail-type": "video.uploaded", "detail": {"video_id": "v1", "etag": ETAG, "key": "k"}}


def test_a_claim_that_keeps_failing_fails_the_video_instead_of_leaving_it_uploaded(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unavailable(*args: Any, **kwargs: Any) -> dict[str, Any]:
        raise DependencyUnavailableError("The videos table did not answer.")

    monkeypatch.setattr(Publishing, "claim", unavailable)
    visited = run_publish_until_task_other_than_publish_steps(uploaded_event(), "arn:execution:run-a")
    assert visited == ["Claim", "ClaimFailed", "MarkFailed", "Failed"]
    failed = record()
    assert failed["status"] == {"S": "failed"}
    assert failed["error"] == {"S": GENERIC_FAILURE}
    assert "video.failed" in announced(world.queue_url)


def test_a_failed_claim_leaves_a_video_another_run_claimed(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.publishing.claim("v1", ETAG, "run-b")  # a concurrent duplicate event's run got there first

    def unavailable(*args: Any, **kwargs: Any) -> dict[str, Any]:
        raise DependencyUnavailableError("The videos table did not answer.")

    monkeypatch.setattr(Publishing, "claim", unavailable)
    before = record()
    visited = run_publish_until_task_other_than_publish_steps(uploaded_event(), "arn:execution:run-a")
    assert visited[-2:] == ["MarkFailed", "Failed"]
    assert record() == before


def test_every_step_after_the_claim_carries_the_attempt() -> None:
    definition = json.loads((ROOT / "infra/workflows/publish.asl.json").read_text())
    states = definition["States"]
    assert states["Claim"]["Parameters"]["attempt.$"] == "$$.Execution.Id"
    tasks = {"Transcode", "EncodeChunks", "Finish", "MarkReady", "MarkFailed"}
    for name in tasks:
        assert states[name]["Parameters"]["attempt.$"] == "$.claim.attempt", name
    # What MarkFailed reads from $.claim, ClaimFailed provides (a missing path is a runtime error).
    read = {
        m
        for v in states["MarkFailed"]["Parameters"].values()
        for m in re.findall(r"^\$\.claim\.(\w+)$", str(v))
    }
    given = {k.removesuffix(".$") for k in states["ClaimFailed"]["Parameters"]}
    assert read <= given
