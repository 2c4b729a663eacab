"""The delete saga's shape: the record is removed last, and every step's failure is recorded on it.

The behaviour (a failure injected into each step, then DELETE again) is proven through the local cloud in
tests/integration/test_videos.py; this pins the order that behaviour depends on.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from functions.shared import aws
from functions.videos.dal import VideoRepository
from functions.videos.media import follow_visibility
from functions.videos.models import Status, UploadRecord, VideoRecord, Visibility
from infra.local.provision import _table_request
from infra.topology import TOPOLOGY

ROOT = Path(__file__).resolve().parents[2]


class RecordingCache:
    """A fake CDN cache for the call sites; the CloudFront adapter itself runs against moto
    (tests/unit/test_media_cache.py)."""

    def __init__(self) -> None:
        self.invalidated: list[list[str]] = []

    def invalidate(self, paths: list[str]) -> None:
        self.invalidated.append(paths)


def _definition() -> dict[str, Any]:
    machine = next(m for m in TOPOLOGY.state_machines if m.id == "video_delete")
    return json.loads((ROOT / machine.definition).read_text())  # type: ignore[no-any-return]


def _happy_path(states: dict[str, Any], start: str) -> list[str]:
    path, name = [], start
    while name:
        path.append(name)
        name = states[name].get("Next")
    return path


def test_the_record_is_deleted_last_after_video_deleted_is_published() -> None:
    definition = _definition()
    states = definition["States"]
    path = _happy_path(states, definition["StartAt"])
    assert path == ["MarkDeleting", "DeleteObjects", "PublishDeleted", "DeleteRecord", "Deleted"]
    steps = [states[name]["Parameters"]["step"] for name in path[:-1]]
    assert steps == ["mark_deleting", "delete_objects", "publish_deleted", "delete_record"]


@pytest.mark.parametrize("state", ["MarkDeleting", "DeleteObjects", "PublishDeleted", "DeleteRecord"])
def test_every_step_records_its_failure_on_the_video(state: str) -> None:
    states = _definition()["States"]
    catches = states[state].get("Catch", [])
    assert [(c["ErrorEquals"], c["Next"], c["ResultPath"]) for c in catches] == [
        (["States.ALL"], "RecordFailure", "$.error")
    ]
    assert states["RecordFailure"]["Parameters"]["step"] == "record_failure"
    assert states[states["RecordFailure"]["Next"]]["Type"] == "Fail"


@pytest.mark.parametrize(("status", "moved"), [(Status.READY, True), (Status.DELETING, False)])
def test_a_visibility_move_does_not_copy_files_the_saga_is_deleting(status: Status, moved: bool) -> None:
    with mock_aws():
        aws.reset_clients()
        boto3.client("dynamodb").create_table(**_table_request(TOPOLOGY.table("videos"), "videos"))
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="media")
        s3.put_object(Bucket="media", Key="hls/v1/master.m3u8", Body=b"#EXTM3U\n")
        upload = UploadRecord(
            key="originals/v1/a.mp4",
            filename="a.mp4",
            content_type="video/mp4",
            size_bytes=1,
            method="PUT",
            expires_at=0,
        )
        repo = VideoRepository("videos")
        repo.create(
            VideoRecord(
                id="v1",
                owner_id="u1",
                title="t",
                visibility=Visibility.PUBLIC,
                status=status,
                media_prefix="hls/v1/",
                upload=upload,
                created_at="2026-01-01T00:00:00Z",
                updated_at="2026-01-01T00:00:00Z",
            )
        )
        cache = RecordingCache()
        outcome = follow_visibility(repo, "media", "v1", cache)
        keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="media").get("Contents", []))
    aws.reset_clients()
    if moved:
        assert keys == ["public/hls/v1/master.m3u8"]
    else:
        assert (outcome, keys) == ("being deleted", ["hls/v1/master.m3u8"])
        assert cache.invalidated == []  # the saga invalidates when it deletes
