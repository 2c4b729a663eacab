"""Publishing while the encode runs (functions/transcode/live.py) on a fake media store: segments before
the playlists that name them, the master and the playable mark only once every rendition has a segment
up, a visibility change moving what is already up, and the final files last. The output directory is
written here as FFmpeg lays it out (EVENT playlists renamed into place after each segment)."""

from __future__ import annotations

from pathlib import Path

import pytest

from functions.transcode.ladder import Rendition
from functions.transcode.live import LivePublisher
from tests.fakes.transcode import FakeMediaStore

RUNGS = [Rendition("720p", 1280, 720, 2800, 128), Rendition("360p", 640, 360, 800, 128)]
PUBLIC, PRIVATE = "public/hls/v1/", "hls/v1/"


class Encode:
    """An output directory growing as FFmpeg's does, and a publisher watching it."""

    def __init__(self, work: Path) -> None:
        self.out = work / "out"
        self.media = FakeMediaStore()
        self.prefix = PUBLIC
        self.playable: list[str] = []
        self.segments: dict[str, int] = {r.name: 0 for r in RUNGS}
        self.publisher = LivePublisher(
            self.media,
            self.out,
            work / "live",
            RUNGS,
            25.0,
            where=lambda: self.prefix,
            on_playable=self.playable.append,
            codecs=lambda segment: "avc1.64001f,mp4a.40.2",
        )
        self.publisher.snapshots.mkdir(parents=True)

    def segment(self, rung: str, end: bool = False) -> None:
        (self.out / rung).mkdir(parents=True, exist_ok=True)
        n = self.segments[rung]
        (self.out / rung / f"seg_{n:05d}.ts").write_bytes(b"\x47" * 188)
        self.segments[rung] = n + 1
        lines = ["#EXTM3U", "#EXT-X-VERSION:6", "#EXT-X-TARGETDURATION:4", "#EXT-X-PLAYLIST-TYPE:EVENT"]
        for i in range(n + 1):
            lines += ["#EXTINF:4.000000,", f"seg_{i:05d}.ts"]
        if end:
            lines.append("#EXT-X-ENDLIST")
        (self.out / rung / "index.m3u8").write_text("\n".join(lines) + "\n")

    def written(self) -> list[str]:
        return [key for op, key in self.media.log if op == "put"]


@pytest.fixture
def encode(tmp_path: Path) -> Encode:
    return Encode(tmp_path)


def test_segments_go_up_before_the_playlists_that_name_them(encode: Encode) -> None:
    encode.segment("720p")
    encode.publisher.publish()
    assert encode.written() == [PUBLIC + "720p/seg_00000.ts", PUBLIC + "720p/index.m3u8"]
    encode.publisher.publish()  # nothing new on disk: nothing written, no read of the record
    assert len(encode.written()) == 2


def test_playable_once_every_rendition_has_a_segment_with_a_master_naming_them_all(encode: Encode) -> None:
    encode.segment("720p")
    encode.publisher.publish()
    assert encode.playable == []
    assert PUBLIC + "master.m3u8" not in encode.media.media
    encode.segment("360p")
    encode.publisher.publish()
    assert encode.playable == [PUBLIC]
    master = encode.media.media[PUBLIC + "master.m3u8"].decode()
    assert "720p/index.m3u8" in master
    assert "360p/index.m3u8" in master
    written = encode.written()
    assert written.index(PUBLIC + "master.m3u8") > written.index(PUBLIC + "360p/index.m3u8")
    encode.segment("720p")
    encode.segment("360p")
    encode.publisher.publish()
    assert encode.playable == [PUBLIC]  # marked once
    assert b"seg_00001.ts" in encode.media.media[PUBLIC + "360p/index.m3u8"]


def test_the_playlist_written_is_the_one_read_not_a_newer_one(encode: Encode) -> None:
    encode.segment("720p")

    def grows_meanwhile(key: str) -> None:  # FFmpeg renames a newer playlist into place mid-upload
        if key.endswith("seg_00000.ts") and encode.segments["720p"] == 1:
            encode.segment("720p")

    encode.media.before_put = grows_meanwhile
    encode.publisher.publish()
    playlist = encode.media.media[PUBLIC + "720p/index.m3u8"].decode()
    assert "seg_00001.ts" not in playlist  # it names only what is up
    encode.media.before_put = None
    encode.publisher.publish()
    assert PUBLIC + "720p/seg_00001.ts" in encode.media.media


def test_a_visibility_change_moves_what_is_up_and_marks_the_new_prefix_playable(encode: Encode) -> None:
    for rung in ("720p", "360p"):
        encode.segment(rung)
    encode.publisher.publish()
    encode.prefix = PRIVATE  # the owner made it private: the next read of the record says so
    encode.segment("720p")
    encode.publisher.publish()
    assert encode.media.listed(PUBLIC) == []
    assert {PRIVATE + "master.m3u8", PRIVATE + "720p/seg_00001.ts", PRIVATE + "360p/seg_00000.ts"} <= set(
        encode.media.listed(PRIVATE)
    )
    assert encode.playable == [PUBLIC, PRIVATE]


def test_finish_writes_the_last_segments_then_pictures_playlists_and_master(encode: Encode) -> None:
    for rung in ("720p", "360p"):
        encode.segment(rung)
    encode.publisher.publish()
    for rung in ("720p", "360p"):
        encode.segment(rung, end=True)
    (encode.out / "poster.jpg").write_bytes(b"jpg")
    (encode.out / "master.m3u8").write_text("#EXTM3U\n")
    final = [encode.out / "master.m3u8", encode.out / "720p/index.m3u8", encode.out / "poster.jpg"]
    before = len(encode.media.log)
    encode.publisher.finish(PUBLIC, final)
    after = [key for _, key in encode.media.log[before:]]
    assert set(after[:2]) == {PUBLIC + "720p/seg_00001.ts", PUBLIC + "360p/seg_00001.ts"}
    assert after[2:] == [PUBLIC + "poster.jpg", PUBLIC + "720p/index.m3u8", PUBLIC + "master.m3u8"]


def test_a_stop_seen_while_publishing_reaches_the_encode(tmp_path: Path) -> None:
    encode = Encode(tmp_path)

    def stopped() -> str:
        raise RuntimeError("cancelled")

    encode.publisher.where = stopped
    encode.publisher.interval_s = 0.01
    encode.segment("720p")
    encode.publisher.start()
    for _ in range(500):
        if encode.publisher.failed():
            break
        encode.publisher._stop.wait(0.01)
    assert encode.publisher.failed()
    with pytest.raises(RuntimeError, match="cancelled"):
        encode.publisher.stop()
    assert encode.media.log == []
