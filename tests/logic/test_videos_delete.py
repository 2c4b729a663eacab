"""Deleting, on the fakes: DELETE marks the video `deleting` (one conditional write) before it answers and
before the saga starts, so the answer is true, reads see it at once, and a repeat starts nothing new
(issue 15, finding 3); a failed start is rolled back; then the saga's steps, each idempotent."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from functions.shared.errors import ConflictError, DependencyUnavailableError, NotFoundError
from functions.shared.principal import Caller
from functions.videos import deletion, wiring
from functions.videos.logic import DELETE_SAGA_TIMEOUT_S, VideoService, cached_media_paths
from functions.videos.models import CreateVideoRequest, Status, VideoRecord
from functions.videos.uploads import UploadLimits
from tests.fakes.videos import VideosWorld

ROOT = Path(__file__).resolve().parents[2]

MIB = 2**20
OWNER = Caller("owner", frozenset({"videos:write", "videos:read"}), "jwt")
STRANGER = Caller("stranger", frozenset({"videos:write", "videos:read"}), "jwt")


@pytest.fixture
def world() -> VideosWorld:
    return VideosWorld()


@pytest.fixture
def service(world: VideosWorld) -> VideoService:
    return world.service(UploadLimits(single_put_max_bytes=6 * MIB, min_part_bytes=5 * MIB))


def create(service: VideoService, size: int = 2048, **fields: Any) -> str:
    upload = {"filename": "a.mp4", "content_type": "video/mp4", "size_bytes": size}
    created = service.create(
        CreateVideoRequest.model_validate({"title": "t", **fields, "upload": upload}), OWNER
    )
    return created.video.id


def stored(world: VideosWorld, video_id: str) -> VideoRecord:
    video = world.repo.get(video_id)
    assert video is not None
    return video


# --- DELETE: mark, then start ------------------------------------------------------------------------------


def test_delete_marks_the_video_deleting_before_it_answers(world: VideosWorld, service: VideoService) -> None:
    video_id = create(service, visibility="public")
    answered = service.start_delete(video_id, OWNER)
    assert (answered.status, answered.version) == (Status.DELETING, 2)
    # What the answer says is what a read right after sees: the record itself was marked.
    assert service.get(video_id, OWNER) == answered
    with pytest.raises(NotFoundError):  # gone from everyone else's view at once
        service.get(video_id, STRANGER)
    assert service.list(STRANGER, "public", 10, None, None, None, None).items == []
    assert world.workflow.executions == {f"{video_id}-v2": {"video": {"id": video_id, "owner_id": "owner"}}}


def test_a_repeated_delete_answers_the_same_and_starts_nothing_new(
    world: VideosWorld, service: VideoService
) -> None:
    video_id = create(service)
    first = service.start_delete(video_id, OWNER)
    writes = world.repo.writes
    second = service.start_delete(video_id, OWNER)
    assert second == first
    assert world.repo.writes == writes  # no second mark
    assert list(world.workflow.executions) == [f"{video_id}-v2"]  # the same name: one execution


def test_a_delete_racing_another_delete_starts_one_saga(world: VideosWorld, service: VideoService) -> None:
    video_id = create(service)
    # The other DELETE marks the record between this one's read and its write.
    world.repo.before_save = lambda _: service.start_delete(video_id, OWNER)
    answered = service.start_delete(video_id, OWNER)
    assert answered.status is Status.DELETING
    assert list(world.workflow.executions) == [f"{video_id}-v2"]


def test_a_delete_racing_an_update_marks_the_newer_state(world: VideosWorld, service: VideoService) -> None:
    video_id = create(service)

    def concurrent_update(_: VideoRecord) -> None:
        video = stored(world, video_id)
        world.repo.save(video.changed(title="renamed"), expected_version=video.version)

    world.repo.before_save = concurrent_update
    answered = service.start_delete(video_id, OWNER)
    assert (answered.status, answered.title, answered.version) == (Status.DELETING, "renamed", 3)
    assert list(world.workflow.executions) == [f"{video_id}-v3"]


def test_a_failed_start_rolls_the_mark_back(world: VideosWorld, service: VideoService) -> None:
    video_id = create(service)
    world.workflow.fail_next = 1
    with pytest.raises(DependencyUnavailableError):
        service.start_delete(video_id, OWNER)
    video = stored(world, video_id)
    assert (video.status, video.error) == (Status.AWAITING_UPLOAD, None)  # as before the DELETE
    assert world.workflow.executions == {}
    assert service.start_delete(video_id, OWNER).status is Status.DELETING  # and DELETE again works
    assert list(world.workflow.executions) == [f"{video_id}-v4"]


def test_a_failed_start_whose_rollback_fails_too_is_started_by_the_next_delete(
    world: VideosWorld, service: VideoService
) -> None:
    video_id = create(service)
    world.workflow.fail_next = 1

    def table_down_for_the_rollback(video: VideoRecord) -> None:
        if video.status is not Status.DELETING:
            raise DependencyUnavailableError("The videos table did not answer.")
        world.repo.before_save = table_down_for_the_rollback  # the mark passes; the rollback does not

    world.repo.before_save = table_down_for_the_rollback
    with pytest.raises(DependencyUnavailableError):
        service.start_delete(video_id, OWNER)
    world.repo.before_save = None
    assert stored(world, video_id).status is Status.DELETING  # marked, and no saga: not for long
    answered = service.start_delete(video_id, OWNER)
    assert answered.status is Status.DELETING
    assert list(world.workflow.executions) == [f"{video_id}-v2"]  # the name the first DELETE meant


def test_a_video_whose_saga_failed_is_deleted_again_under_a_new_name(
    world: VideosWorld, service: VideoService
) -> None:
    video_id = create(service)
    service.start_delete(video_id, OWNER)
    world.deletion().record_failure(video_id, {"Error": "DependencyUnavailableError", "Cause": "S3 down"})
    assert "Delete it again" in (stored(world, video_id).error or "")
    answered = service.start_delete(video_id, OWNER)
    assert (answered.status, answered.error) == (Status.DELETING, None)
    assert list(world.workflow.executions) == [f"{video_id}-v2", f"{video_id}-v4"]


def test_someone_elses_video_is_not_found_and_nothing_starts(
    world: VideosWorld, service: VideoService
) -> None:
    video_id = create(service)
    with pytest.raises(NotFoundError):
        service.start_delete(video_id, STRANGER)
    assert stored(world, video_id).status is Status.AWAITING_UPLOAD
    assert world.workflow.executions == {}


def test_a_mark_older_than_the_sagas_time_limit_is_made_again(
    world: VideosWorld, service: VideoService
) -> None:
    """The saga of that mark has ended (its RecordFailure failed too): a DELETE starts a new one."""
    video_id = create(service)
    service.start_delete(video_id, OWNER)
    world.now += DELETE_SAGA_TIMEOUT_S - 60
    service.start_delete(video_id, OWNER)
    assert list(world.workflow.executions) == [f"{video_id}-v2"]  # still within it: the same saga
    world.now += 120
    assert service.start_delete(video_id, OWNER).version == 3
    assert list(world.workflow.executions) == [f"{video_id}-v2", f"{video_id}-v3"]


def test_the_time_limit_is_the_state_machines() -> None:
    definition = json.loads((ROOT / "infra/workflows/video_delete.asl.json").read_text())
    assert definition["TimeoutSeconds"] == DELETE_SAGA_TIMEOUT_S


# --- the saga's steps --------------------------------------------------------------------------------------


def test_the_saga_removes_every_object_then_the_record(world: VideosWorld, service: VideoService) -> None:
    kept = create(service)
    video_id = create(service, 12 * MIB)  # an open multipart upload
    world.uploads.put(f"originals/{kept}/a.mp4", b"kept")
    for key in (f"hls/{video_id}/master.m3u8", f"public/hls/{video_id}/master.m3u8", f"hls/{kept}/x"):
        world.media.put(key, b"m")
    service.start_delete(video_id, OWNER)
    saga = world.deletion()
    saga.mark_deleting(video_id)
    assert saga.delete_objects(video_id) == 2
    assert world.uploads.multipart == {}  # aborted
    assert world.media.keys() == [f"hls/{kept}/x"]
    assert world.uploads.keys() == [f"originals/{kept}/a.mp4"]
    assert world.cache.invalidated == [cached_media_paths(video_id)]
    saga.publish_deleted(video_id, "owner")
    saga.delete_record(video_id)
    assert world.repo.get(video_id) is None
    assert world.events.of_type("video.deleted") == [{"video_id": video_id, "owner_id": "owner"}]
    assert world.repo.usage("owner").used == 2048  # what the deleted video reserved is released


def test_every_step_run_again_changes_nothing_more(world: VideosWorld, service: VideoService) -> None:
    video_id = create(service)
    service.start_delete(video_id, OWNER)
    saga = world.deletion()
    saga.mark_deleting(video_id)
    writes = world.repo.writes
    saga.mark_deleting(video_id)  # already marked (by DELETE): no write
    assert world.repo.writes == writes
    saga.delete_objects(video_id)
    assert saga.delete_objects(video_id) == 0
    saga.delete_record(video_id)
    saga.delete_record(video_id)
    saga.mark_deleting(video_id)  # a record already gone: nothing to mark
    assert world.repo.get(video_id) is None
    assert world.repo.usage("owner").used == 0


def test_mark_deleting_clears_a_recorded_failure(world: VideosWorld, service: VideoService) -> None:
    video_id = create(service)
    service.start_delete(video_id, OWNER)
    world.deletion().record_failure(video_id, {"Error": "States.Timeout"})
    world.deletion().mark_deleting(video_id)
    assert (stored(world, video_id).status, stored(world, video_id).error) == (Status.DELETING, None)


def test_a_step_that_keeps_losing_races_gives_up_with_a_conflict(
    world: VideosWorld, service: VideoService
) -> None:
    video_id = create(service)
    saga = world.deletion()

    def someone_always_writes_first(_: VideoRecord) -> None:
        video = stored(world, video_id)
        world.repo.save(video.changed(title="again"), expected_version=video.version)
        world.repo.before_save = someone_always_writes_first

    world.repo.before_save = someone_always_writes_first
    with pytest.raises(ConflictError, match="kept changing"):
        saga.mark_deleting(video_id)


# --- the task function: one step per invocation ------------------------------------------------------------


def test_the_task_function_runs_the_named_step_with_the_shapes_the_state_machine_reads(
    world: VideosWorld, service: VideoService, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(wiring, "deletion", world.deletion)
    video_id = create(service)
    world.uploads.put(f"originals/{video_id}/a.mp4", b"v")
    ref = {"id": video_id, "owner_id": "owner"}
    assert deletion.STEPS.handle({"step": "mark_deleting", "video": ref}) == {
        "step": "mark_deleting",
        "result": None,
    }
    assert deletion.STEPS.handle({"step": "delete_objects", "video": ref}) == {
        "step": "delete_objects",
        "result": 1,
    }
    deletion.STEPS.handle({"step": "record_failure", "video": ref, "error": {"Error": "X", "Cause": "y"}})
    assert "(X): y" in (stored(world, video_id).error or "")
    deletion.STEPS.handle({"step": "publish_deleted", "video": ref})
    deletion.STEPS.handle({"step": "delete_record", "video": ref})
    assert world.repo.get(video_id) is None
    assert deletion.STEPS.names == {
        "mark_deleting",
        "delete_objects",
        "publish_deleted",
        "delete_record",
        "record_failure",
    }
