"""Media follows visibility (functions/videos/logic.py MediaMoves) on the fakes: copy, switch the record,
delete the old copies, invalidate the edge; each step idempotent, a lost race leaving nothing in public/."""

from __future__ import annotations

from typing import Any

import pytest

from functions.shared.errors import DependencyUnavailableError
from functions.videos import media, wiring
from functions.videos.logic import cached_media_paths, prefix_for
from functions.videos.models import Status, UploadRecord, VideoRecord, Visibility
from tests.fakes.videos import VideosWorld

PATHS = ["/hls/v1/*", "/public/hls/v1/*", "/media/public/hls/v1/*"]


def _video(
    world: VideosWorld, visibility: Visibility, media_prefix: str | None, status: Status = Status.READY
) -> None:
    upload = UploadRecord(
        key="originals/v1/a.mp4",
        filename="a.mp4",
        content_type="video/mp4",
        size_bytes=1,
        method="PUT",
        expires_at=0,
    )
    world.repo.create(
        VideoRecord(
            id="v1",
            owner_id="u1",
            title="t",
            visibility=visibility,
            status=status,
            media_prefix=media_prefix,
            upload=upload,
            created_at="2026-01-01T00:00:00.000Z",
            updated_at="2026-01-01T00:00:00.000Z",
        )
    )


@pytest.fixture
def world() -> VideosWorld:
    made = VideosWorld()
    for name in ("master.m3u8", "240p/index.m3u8"):
        made.media.put(f"hls/v1/{name}", b"x")
    return made


def test_the_prefix_follows_visibility() -> None:
    assert prefix_for("v1", Visibility.PUBLIC) == "public/hls/v1/"
    assert prefix_for("v1", Visibility.UNLISTED) == "hls/v1/"
    assert prefix_for("v1", Visibility.PRIVATE) == "hls/v1/"
    assert cached_media_paths("v1") == PATHS


def test_a_video_made_public_moves_to_public_and_the_edge_forgets_it(world: VideosWorld) -> None:
    _video(world, Visibility.PUBLIC, "hls/v1/")
    assert world.media_moves().follow_visibility("v1") == "moved 2 objects from hls/v1/ to public/hls/v1/"
    assert world.media.keys() == ["public/hls/v1/240p/index.m3u8", "public/hls/v1/master.m3u8"]
    assert world.repo.get("v1").media_prefix == "public/hls/v1/"  # type: ignore[union-attr]
    assert world.cache.invalidated == [PATHS]


def test_a_video_made_private_leaves_public_and_the_edge_forgets_it(world: VideosWorld) -> None:
    world.media.delete_prefix("hls/v1/")
    world.media.put("public/hls/v1/master.m3u8", b"x")
    _video(world, Visibility.PRIVATE, "public/hls/v1/")  # just made private: media still under public/
    assert world.media_moves().follow_visibility("v1").startswith("moved 1 objects")
    assert world.media.keys() == ["hls/v1/master.m3u8"]
    assert world.cache.invalidated == [PATHS]


def test_a_retried_event_finds_the_move_done_and_invalidates_again(world: VideosWorld) -> None:
    _video(world, Visibility.PRIVATE, "hls/v1/")
    assert world.media_moves().follow_visibility("v1") == "already in place"
    assert world.media_moves().follow_visibility("v1") == "already in place"
    assert world.cache.invalidated == [PATHS, PATHS]
    assert world.media.keys("hls/v1/") == ["hls/v1/240p/index.m3u8", "hls/v1/master.m3u8"]


@pytest.mark.parametrize(("status", "outcome"), [(Status.DELETING, "being deleted")])
def test_a_move_does_not_copy_files_the_saga_is_deleting(
    world: VideosWorld, status: Status, outcome: str
) -> None:
    _video(world, Visibility.PUBLIC, "hls/v1/", status)
    assert world.media_moves().follow_visibility("v1") == outcome
    assert world.media.keys() == ["hls/v1/240p/index.m3u8", "hls/v1/master.m3u8"]
    assert world.cache.invalidated == []  # the saga invalidates when it deletes


def test_nothing_to_move_without_media(world: VideosWorld) -> None:
    _video(world, Visibility.PUBLIC, None, Status.PROCESSING)
    assert world.media_moves().follow_visibility("v1") == "nothing to move"
    assert world.media_moves().follow_visibility("gone") == "nothing to move"


def test_a_move_to_public_that_races_a_change_back_to_private_leaves_nothing_in_public(
    world: VideosWorld,
) -> None:
    _video(world, Visibility.PUBLIC, "hls/v1/")

    def owner_makes_it_private(_: VideoRecord) -> None:  # after the copy, before the record switches
        video = world.repo.get("v1")
        assert video is not None
        world.repo.save(video.changed(visibility=Visibility.PRIVATE), expected_version=video.version)

    world.repo.before_save = owner_makes_it_private
    assert world.media_moves().follow_visibility("v1") == "already in place"
    assert world.media.keys("public/") == []  # the copy made for the lost move is gone
    moved = world.repo.get("v1")
    assert moved is not None
    assert (moved.visibility, moved.media_prefix) == (Visibility.PRIVATE, "hls/v1/")


def test_a_failed_copy_changes_no_record(world: VideosWorld) -> None:
    _video(world, Visibility.PUBLIC, "hls/v1/")
    world.media.fail_copies = True
    with pytest.raises(DependencyUnavailableError):
        world.media_moves().follow_visibility("v1")
    assert world.repo.get("v1").media_prefix == "hls/v1/"  # type: ignore[union-attr]


def test_a_move_that_keeps_losing_races_is_retried_by_its_event(world: VideosWorld) -> None:
    _video(world, Visibility.PUBLIC, "hls/v1/")

    def someone_always_writes_first(_: VideoRecord) -> None:
        video = world.repo.get("v1")
        assert video is not None
        world.repo.save(video.changed(title="again"), expected_version=video.version)
        world.repo.before_save = someone_always_writes_first

    world.repo.before_save = someone_always_writes_first
    with pytest.raises(DependencyUnavailableError, match="kept changing"):
        world.media_moves().follow_visibility("v1")


def test_the_entry_reads_the_event_and_calls_the_move(
    world: VideosWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    _video(world, Visibility.PUBLIC, "hls/v1/")
    monkeypatch.setattr(wiring, "media_moves", world.media_moves)
    monkeypatch.setattr(wiring, "settings", lambda model: None)
    event: dict[str, Any] = {"detail": {"video_id": "v1", "owner_id": "owner", "visibility": "public"}}
    outcome = media.lambda_handler(event, _Context())  # type: ignore[arg-type]
    assert outcome["outcome"].startswith("moved 2 objects")


class _Context:
    function_name = "videos_media"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:videos_media"
    aws_request_id = "r1"
