"""The transcode pipeline's orchestration (functions/transcode/pipeline.py) on fakes of its ports: the
source fetched once per invocation, the order of writes to the media bucket, where they go when the
visibility changes, cancel and supersession, and that a failure leaves no half-written state.
What FFmpeg makes of a real clip is tests/unit/test_transcode.py's and test_chunks.py's business."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from functions.transcode.encoder import EncodeError
from functions.transcode.models import Run
from functions.transcode.pipeline import (
    ENCODED,
    SupersededError,
    TranscodeCancelledError,
    TranscodePipeline,
    Tunables,
)
from functions.transcode.ports import MissingObjectError
from functions.transcode.probe import SourceInfo
from tests.fakes.shared import RecordingEvents
from tests.fakes.transcode import FakeEngine, FakeMediaStore, FakeRunRecords

KEY = "originals/v1/clip.mp4"
PUBLIC, PRIVATE = "public/hls/v1/", "hls/v1/"
SHORT = SourceInfo(10, 1280, 720, 0, 30, True, "h264", None)  # 720p and below: four rungs
LONG = SourceInfo(26, 640, 360, 0, 25, True, "h264", None)  # 360p, 240p; chunked: 12 + 12 + 2 s
SILENT_LONG = SourceInfo(26, 640, 360, 0, 25, False, "h264", None)


class Clock:
    """Time moves 10 s per reading: every progress report is due (the throttle is progress.py's test)."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 10
        return self.now


class World:
    def __init__(self, work: Path, info: SourceInfo, visibility: str = "public") -> None:
        self.work = work
        self.media = FakeMediaStore({KEY: b"the original"})
        self.records = FakeRunRecords()
        self.records.seed("v1", attempt="run-1", visibility=visibility, progress=0)
        self.events = RecordingEvents()
        self.engine = FakeEngine(info)
        self.pipeline = TranscodePipeline(
            self.media,
            self.records,
            self.events,
            self.engine,
            Tunables(str(work), chunk_threshold_s=20, chunk_s=12),
            clock=Clock(),
        )

    def run(self, attempt: str = "run-1") -> Run:
        return Run("v1", KEY, PUBLIC, attempt, PRIVATE)

    def cancel(self) -> None:
        self.records.videos["v1"]["status"] = "failed"

    def supersede(self) -> None:  # cancelled, retried and claimed by run-2
        self.records.videos["v1"]["attempt"] = "run-2"

    def make_private(self) -> None:
        self.records.videos["v1"]["visibility"] = "private"

    def when(self, call: str, then: Any) -> None:
        self.engine.during = lambda what: then() if what == call else None

    def leftovers(self) -> list[Path]:
        return list(self.work.iterdir())

    def chunked(self) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        plan = self.pipeline.plan(KEY, "v1")
        return plan, [self.pipeline.encode_chunk(self.run(), plan, c) for c in plan["chunks"]]


@pytest.fixture
def short(tmp_path: Path) -> World:
    return World(tmp_path, SHORT)


@pytest.fixture
def long(tmp_path: Path) -> World:
    return World(tmp_path, LONG)


# --- the whole source in one invocation ---------------------------------------------------------------


def test_a_whole_transcode_fetches_once_and_writes_playlists_after_what_they_name(short: World) -> None:
    output = short.pipeline.transcode(short.run())
    assert short.media.fetched == [KEY]
    assert short.engine.calls == ["probe", "ladder"]  # the pictures come from the same decode
    assert output["media_prefix"] == PUBLIC
    assert (output["duration_s"], output["width"], output["height"]) == (10, 1280, 720)
    assert [r["name"] for r in output["renditions"]] == ["720p", "480p", "360p", "240p"]
    assert all(r["bandwidth"] >= r["average_bandwidth"] > 0 for r in output["renditions"])
    written = [key for op, key in short.media.log if op == "put"]
    assert all(key.startswith(PUBLIC) for key in written)
    playlists = [i for i, key in enumerate(written) if key.endswith(".m3u8")]
    assert min(playlists) > max(i for i, key in enumerate(written) if not key.endswith(".m3u8"))
    assert written[-1] == PUBLIC + "master.m3u8"
    assert {PUBLIC + "poster.jpg", PUBLIC + "storyboard.vtt", PUBLIC + "720p/seg_00000.ts"} <= set(written)
    assert short.leftovers() == []  # the local workspace is gone


def test_progress_rises_and_is_announced_but_stops_short_of_ready(short: World) -> None:
    short.pipeline.transcode(short.run())
    announced = [e["progress"] for e in short.events.of_type("video.progress")]
    assert announced == sorted(announced)
    assert len(announced) >= 3
    assert announced[-1] == 92
    assert short.records.progress("v1") == 92  # 100 is MarkReady's


def test_a_video_made_private_during_the_encode_is_written_to_the_private_prefix(short: World) -> None:
    short.when("ladder", short.make_private)
    output = short.pipeline.transcode(short.run())
    assert output["media_prefix"] == PRIVATE
    assert short.media.listed(PUBLIC) == []
    assert PRIVATE + "master.m3u8" in short.media.listed(PRIVATE)


def test_a_private_video_is_written_to_the_private_prefix(tmp_path: Path) -> None:
    world = World(tmp_path, SHORT, visibility="private")
    run = Run("v1", KEY, PRIVATE, "run-1", PRIVATE)  # claimed while private: both prefixes the same
    assert world.pipeline.transcode(run)["media_prefix"] == PRIVATE
    assert world.media.listed(PUBLIC) == []


def test_an_execution_without_a_private_prefix_writes_where_it_was_claimed(tmp_path: Path) -> None:
    world = World(tmp_path, SHORT, visibility="private")
    output = world.pipeline.transcode(Run("v1", KEY, PUBLIC, "run-1"))  # started before it was passed
    assert output["media_prefix"] == PUBLIC


def test_a_run_cancelled_during_its_encode_stops_and_writes_nothing(short: World) -> None:
    short.when("ladder", short.cancel)
    with pytest.raises(TranscodeCancelledError):
        short.pipeline.transcode(short.run())
    assert short.media.log == []
    assert "pictures" not in short.engine.calls
    assert short.leftovers() == []


def test_a_run_superseded_during_its_encode_says_so_and_writes_nothing(short: World) -> None:
    short.when("ladder", short.supersede)
    with pytest.raises(SupersededError):  # its MarkFailed then leaves the newer run's record alone
        short.pipeline.transcode(short.run())
    assert short.media.log == []


@pytest.mark.parametrize("change", ["cancel", "supersede"])
def test_the_last_check_is_right_before_the_upload(short: World, change: str) -> None:
    short.engine.finished = lambda what: getattr(short, change)()  # after the encode's last check
    with pytest.raises((TranscodeCancelledError, SupersededError)):
        short.pipeline.transcode(short.run())
    assert short.media.log == []


def test_a_failed_encode_writes_nothing_and_leaves_no_workspace(short: World) -> None:
    short.engine.fail = EncodeError("FFmpeg exited with 1")
    with pytest.raises(EncodeError):
        short.pipeline.transcode(short.run())
    assert short.media.log == []
    assert short.leftovers() == []


def test_a_missing_source_fails_before_anything_runs(short: World) -> None:
    short.media.uploads.clear()
    with pytest.raises(MissingObjectError):
        short.pipeline.transcode(short.run())
    assert short.engine.calls == []
    assert short.media.log == []
    assert short.leftovers() == []


def test_an_upload_that_fails_part_way_never_writes_the_master(short: World) -> None:
    def broken(key: str) -> None:
        if key.endswith("index.m3u8"):
            raise ConnectionError("the media bucket went away")

    short.media.before_put = broken
    with pytest.raises(ConnectionError):
        short.pipeline.transcode(short.run())
    assert short.media.listed()  # segments made it (MarkFailed removes them)
    assert not [k for k in short.media.listed() if k.endswith(".m3u8")]  # no playlist names a missing file
    assert short.leftovers() == []


# --- long sources, in chunks ----------------------------------------------------------------------------


def test_a_short_source_is_not_chunked(short: World) -> None:
    assert short.pipeline.plan(KEY, "v1") == {"chunked": False}
    assert short.media.fetched == [KEY]
    assert short.leftovers() == []


def test_the_plan_carries_the_source_the_ladder_and_the_chunks(long: World) -> None:
    plan = long.pipeline.plan(KEY, "v1")
    assert plan["chunked"]
    assert plan["info"]["duration_s"] == 26
    assert [r["name"] for r in plan["renditions"]] == ["360p", "240p"]
    assert [(c["index"], c["start_s"], c["duration_s"]) for c in plan["chunks"]] == [
        (0, 0, 12),
        (1, 12, 12),
        (2, 24, 2),
    ]
    assert long.media.log == []


def test_chunks_then_finish_make_one_playlist_per_rendition_and_clean_up(long: World) -> None:
    plan, results = long.chunked()
    assert long.media.fetched == [KEY] * 4  # the plan's one fetch, then one per chunk
    assert [r["media_prefix"] for r in results] == [PUBLIC] * 3
    assert long.records.progress("v1") == round(ENCODED * 100)  # the chunks' shares add up
    long.media.fetched.clear()
    output = long.pipeline.finish(long.run(), plan, results)
    assert long.media.fetched == [KEY]  # once for the audio and the pictures
    assert output["chunks"] == 3
    assert output["media_prefix"] == PUBLIC
    assert all(r["codecs"] == "avc1.64001f,mp4a.40.2" for r in output["renditions"])
    for name in ("360p", "240p"):
        playlist = long.media.read_text(f"{PUBLIC}{name}/index.m3u8")
        segments = [line for line in playlist.splitlines() if line.endswith(".ts")]
        assert segments == [f"seg_{i:05d}.ts" for i in range(7)]  # 6 whole, then the last 2 s
        assert all(f"{PUBLIC}{name}/{s}" in long.media.media for s in segments)
    assert PUBLIC + "audio/index.m3u8" in long.media.media
    assert "#EXT-X-MEDIA:TYPE=AUDIO" in long.media.read_text(PUBLIC + "master.m3u8")
    assert not [k for k in long.media.listed() if "chunk_" in k]
    assert long.leftovers() == []
    # the finishing pass writes before it deletes the chunk playlists
    ops = [op for op, _ in long.media.log[-20:]]
    assert ops.index("delete") > max(i for i, op in enumerate(ops) if op == "put")


def test_a_silent_long_source_has_no_audio_rendition(tmp_path: Path) -> None:
    world = World(tmp_path, SILENT_LONG)
    plan, results = world.chunked()
    output = world.pipeline.finish(world.run(), plan, results)
    assert "audio" not in world.engine.calls
    assert all("mp4a" not in r["codecs"] for r in output["renditions"])
    assert not world.media.listed(PUBLIC + "audio/")
    assert "AUDIO" not in world.media.read_text(PUBLIC + "master.m3u8")


def test_chunks_of_a_video_made_private_midway_are_gathered_under_the_private_prefix(long: World) -> None:
    plan = long.pipeline.plan(KEY, "v1")
    results = [long.pipeline.encode_chunk(long.run(), plan, plan["chunks"][0])]
    long.make_private()
    results += [long.pipeline.encode_chunk(long.run(), plan, c) for c in plan["chunks"][1:]]
    assert [r["media_prefix"] for r in results] == [PUBLIC, PRIVATE, PRIVATE]
    before = len(long.media.log)
    output = long.pipeline.finish(long.run(), plan, results)
    assert output["media_prefix"] == PRIVATE
    assert long.media.listed(PUBLIC) == []  # the first chunk's segments moved, its playlists gone
    for name in ("360p", "240p"):
        playlist = long.media.read_text(f"{PRIVATE}{name}/index.m3u8")
        assert all(
            f"{PRIVATE}{name}/{line}" in long.media.media
            for line in playlist.splitlines()
            if line.endswith(".ts")
        )
    ops = [op for op, _ in long.media.log[before:]]
    # copies before the playlists that name them, deletes after everything is written
    assert ops == sorted(ops, key=["copy", "put", "delete"].index)
    assert ops.count("copy") == 6  # chunk 0: 3 segments in each of 2 renditions


def test_a_superseded_chunk_and_finish_write_nothing(long: World) -> None:
    plan = long.pipeline.plan(KEY, "v1")
    long.supersede()
    with pytest.raises(SupersededError):
        long.pipeline.encode_chunk(long.run(), plan, plan["chunks"][0])
    with pytest.raises(SupersededError):
        long.pipeline.finish(long.run(), plan, [{"index": 0, "codecs": {}}])
    assert long.media.log == []
    # the current run is not stopped by the same checks
    assert long.pipeline.encode_chunk(long.run("run-2"), plan, plan["chunks"][0])["index"] == 0
    assert long.media.log


def test_a_finish_superseded_after_its_upload_leaves_the_chunk_playlists(long: World) -> None:
    plan, results = long.chunked()

    def superseded_once_written(key: str) -> None:
        if key.endswith("master.m3u8"):
            long.supersede()  # the chunk playlists may be the newer run's by now

    long.media.before_put = superseded_once_written
    with pytest.raises(SupersededError):
        long.pipeline.finish(long.run(), plan, results)
    assert not [op for op, _ in long.media.log if op == "delete"]


def test_a_cancel_during_the_audio_pass_writes_nothing(long: World) -> None:
    plan, results = long.chunked()
    written = list(long.media.log)
    long.when("audio", long.cancel)
    with pytest.raises(TranscodeCancelledError):
        long.pipeline.finish(long.run(), plan, results)
    assert long.media.log == written
    assert long.leftovers() == []


def test_a_finish_missing_a_chunk_playlist_writes_and_deletes_nothing(long: World) -> None:
    plan, results = long.chunked()
    long.media.delete([PUBLIC + "240p/chunk_0001.m3u8"])
    written = list(long.media.log)
    with pytest.raises(MissingObjectError):
        long.pipeline.finish(long.run(), plan, results)
    assert long.media.log == written
    assert long.leftovers() == []


def test_a_chunk_result_from_before_chunks_named_their_prefix_is_the_claims(long: World) -> None:
    plan, results = long.chunked()
    old_style = [{"index": r["index"], "codecs": r["codecs"]} for r in results]
    assert long.pipeline.finish(long.run(), plan, old_style)["media_prefix"] == PUBLIC
