"""Probe, ladder, one-process HLS encode, master playlist, poster and storyboard, on generated videos.
The outputs are checked by parsing the playlists (m3u8) and decoding the segments (PyAV)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import av
import m3u8
import pytest

from functions.transcode import chunks
from functions.transcode.encoder import (
    KEYFRAME_TILES_S,
    EncodeCancelled,
    EncodeError,
    LadderJob,
    encode_ladder,
    ffmpeg,
    ffmpeg_exe,
    make_poster,
    make_storyboard,
)
from functions.transcode.ladder import SEGMENT_S, ladder
from functions.transcode.playlists import write_master
from functions.transcode.probe import DEMUXERS, FORMAT_WHITELIST, SourceInfo, UnplayableSourceError, probe
from functions.videos import uploads
from tests.clips import make_clip


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("clips")
    landscape = make_clip(root / "landscape.mp4", "1280x720", 10, fps=30)
    small = make_clip(root / "small.mp4", "640x360", 3, fps=30)
    rotated = make_clip(root / "phone.mp4", "640x360", 3, fps=30, rotate=90)
    silent = make_clip(root / "silent.mp4", "320x240", 2, fps=30, audio=False)
    audio_only = root / "voice.m4a"
    subprocess.run(
        [
            ffmpeg_exe(),
            "-loglevel",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "sine=duration=2",
            "-c:a",
            "aac",
            str(audio_only),
        ],
        check=True,
    )
    (root / "corrupt.mp4").write_bytes(bytes(range(256)) * 400)
    (root / "truncated.mp4").write_bytes(landscape.read_bytes()[:3000])
    (root / "empty.mp4").write_bytes(b"")
    return {
        "landscape": landscape,
        "small": small,
        "phone": rotated,
        "silent": silent,
        "voice": audio_only,
        "corrupt": root / "corrupt.mp4",
        "truncated": root / "truncated.mp4",
        "empty": root / "empty.mp4",
    }


# --- probe ------------------------------------------------------------------------------------------


def test_probe_reads_what_the_source_is(clips: dict[str, Path]) -> None:
    info = probe(clips["landscape"])
    assert (info.width, info.height, info.rotation, info.has_audio) == (1280, 720, 0, True)
    assert info.duration_s == pytest.approx(10, abs=0.1)
    assert info.fps == pytest.approx(30)


def test_a_rotated_phone_video_is_portrait(clips: dict[str, Path]) -> None:
    info = probe(clips["phone"])
    assert info.rotation in {90, 270}
    assert (info.width, info.height) == (360, 640)
    assert info.portrait


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("empty", "empty"),
        ("corrupt", "not a video file"),
        ("voice", "no video stream"),
        ("truncated", "not a video file|corrupt|no duration"),
    ],
)
def test_unplayable_sources_say_why(clips: dict[str, Path], name: str, reason: str) -> None:
    with pytest.raises(UnplayableSourceError, match=reason):
        probe(clips[name])


def test_too_long_sources_are_refused(clips: dict[str, Path]) -> None:
    with pytest.raises(UnplayableSourceError, match="longer than the 0-minute limit"):
        probe(clips["small"], max_duration_s=2)


# --- ladder -----------------------------------------------------------------------------------------


def _info(width: int, height: int) -> SourceInfo:
    return SourceInfo(10, width, height, 0, 30, True, "h264", None)


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        ((1920, 1080), ["1080p", "720p", "480p", "360p", "240p"]),
        ((1280, 720), ["720p", "480p", "360p", "240p"]),
        ((1080, 1920), ["1080p", "720p", "480p", "360p", "240p"]),
        ((3840, 2160), ["1080p", "720p", "480p", "360p", "240p"]),
        ((640, 360), ["360p", "240p"]),
        ((200, 112), ["112p"]),
    ],
)
def test_ladder_never_upscales_and_keeps_the_aspect(size: tuple[int, int], expected: list[str]) -> None:
    width, height = size
    renditions = ladder(_info(width, height))
    assert [r.name for r in renditions] == expected
    for r in renditions:
        assert r.width % 2 == 0
        assert r.height % 2 == 0
        assert r.width <= width
        assert r.height <= height
        assert r.width / r.height == pytest.approx(width / height, rel=0.02)


# --- the encode -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def encoded(clips: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SourceInfo]:
    out = tmp_path_factory.mktemp("hls")
    info = probe(clips["landscape"])
    renditions = ladder(info)
    encode_ladder(LadderJob(clips["landscape"], out, info, tuple(renditions)))
    write_master(out, renditions, info.fps)
    return out, info


def test_master_playlist_has_every_attribute(encoded: tuple[Path, SourceInfo]) -> None:
    out, _ = encoded
    master = m3u8.load(str(out / "master.m3u8"))
    assert master.is_variant
    assert [p.stream_info.resolution for p in master.playlists] == [
        (1280, 720),
        (854, 480),
        (640, 360),
        (426, 240),
    ]
    for p in master.playlists:
        info = p.stream_info
        assert info.bandwidth >= info.average_bandwidth > 0
        assert info.codecs.startswith("avc1.64")
        assert "mp4a.40.2" in info.codecs
        assert info.frame_rate == pytest.approx(30)


def test_segments_are_aligned_keyframe_started_and_gapless(encoded: tuple[Path, SourceInfo]) -> None:
    out, info = encoded
    durations = {}
    for rendition in ("720p", "480p", "360p", "240p"):
        playlist = m3u8.load(str(out / rendition / "index.m3u8"))
        assert playlist.playlist_type == "vod"
        assert playlist.is_endlist
        durations[rendition] = [round(float(s.duration), 2) for s in playlist.segments]
        assert sum(durations[rendition]) == pytest.approx(info.duration_s, abs=0.1)
        assert all(d <= SEGMENT_S + 0.1 for d in durations[rendition])
        for segment in playlist.segments:
            with av.open(str(out / rendition / str(segment.uri))) as container:
                first_video = next(p for p in container.demux(video=0) if p.size)
                assert first_video.is_keyframe, (rendition, segment.uri)
    # The same cut points in every rendition: a player can switch at any segment boundary.
    assert len({tuple(d) for d in durations.values()}) == 1


def test_segments_decode_with_picture_and_sound(encoded: tuple[Path, SourceInfo]) -> None:
    out, _ = encoded
    playlist = m3u8.load(str(out / "480p" / "index.m3u8"))
    frames = audio_frames = 0
    for segment in playlist.segments:
        with av.open(str(out / "480p" / str(segment.uri))) as container:
            for frame in container.decode(video=0):
                assert (frame.width, frame.height) == (854, 480)
                frames += 1
        with av.open(str(out / "480p" / str(segment.uri))) as container:
            audio_frames += sum(1 for _ in container.decode(audio=0))
    assert frames == pytest.approx(300, abs=2)  # 10 s at 30 fps, none lost at the boundaries
    assert audio_frames > 0


def test_portrait_and_silent_sources(clips: dict[str, Path], tmp_path: Path) -> None:
    for name in ("phone", "silent"):
        info = probe(clips[name])
        renditions = ladder(info)
        out = tmp_path / name
        encode_ladder(LadderJob(clips[name], out, info, tuple(renditions)))
        stats = write_master(out, renditions, info.fps)
        first = out / renditions[0].name / "seg_00000.ts"
        with av.open(str(first)) as container:
            frame = next(container.decode(video=0))
            assert (frame.width > frame.height) == (not info.portrait)  # rotation applied, not just flagged
            assert bool(container.streams.audio) == info.has_audio
        assert ("mp4a" in stats[0].codecs) == info.has_audio


def test_poster_and_storyboard(clips: dict[str, Path], tmp_path: Path) -> None:
    info = probe(clips["landscape"])
    make_poster(clips["landscape"], info, tmp_path / "poster.jpg")
    with av.open(str(tmp_path / "poster.jpg")) as poster:
        assert poster.streams.video[0].codec_context.height == 720
    board = make_storyboard(
        clips["landscape"], info, tmp_path / "sprite.jpg", tmp_path / "storyboard.vtt", "sprite.jpg"
    )
    with av.open(str(tmp_path / "sprite.jpg")) as sprite:
        ctx = sprite.streams.video[0].codec_context
        assert (ctx.width, ctx.height) == (board.columns * board.tile_width, board.rows * board.tile_height)
    vtt = (tmp_path / "storyboard.vtt").read_text().splitlines()
    assert vtt[0] == "WEBVTT"
    cues = [line for line in vtt if "#xywh=" in line]
    assert len(cues) == board.count == 10
    assert cues[-1] == f"sprite.jpg#xywh={9 * 160},0,160,90"


@pytest.mark.parametrize(("name", "tiles"), [("small", 100), ("landscape", 1)])
def test_a_storyboard_from_every_frame_or_from_keyframes(
    clips: dict[str, Path], tmp_path: Path, name: str, tiles: int
) -> None:
    # "small": 3 s with a single keyframe, tiles 1 s apart: every frame decoded. "landscape" in 1 tile 10 s
    # apart stands for a long source: keyframes only (KEYFRAME_TILES_S), as the chunked Finish makes it.
    info = probe(clips[name])
    board = make_storyboard(
        clips[name], info, tmp_path / "sprite.jpg", tmp_path / "sb.vtt", "sprite.jpg", tiles
    )
    assert (board.interval_s >= KEYFRAME_TILES_S) is (name == "landscape")
    with av.open(str(tmp_path / "sprite.jpg")) as sprite:
        ctx = sprite.streams.video[0].codec_context
        assert (ctx.width, ctx.height) == (board.columns * board.tile_width, board.rows * board.tile_height)


def test_cancel_kills_ffmpeg_promptly(clips: dict[str, Path], tmp_path: Path) -> None:
    info = probe(clips["landscape"])
    job = LadderJob(clips["landscape"], tmp_path, info, tuple(ladder(info)), threads=1)
    started = time.monotonic()
    with pytest.raises(EncodeCancelled):
        encode_ladder(job, should_stop=lambda: True)
    assert time.monotonic() - started < 5


# --- only the video containers we accept, only from local files (finding 7) ------------------------------


def test_the_whitelist_covers_every_upload_type_we_accept() -> None:
    assert set(DEMUXERS) == uploads.VIDEO_TYPES
    assert "hls" not in FORMAT_WHITELIST.split(",")
    assert "concat" not in FORMAT_WHITELIST.split(",")


@pytest.fixture(scope="module")
def hostile(clips: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Files that FFmpeg, left to guess the container, opens as something that reads OTHER files or URLs:
    each would publish, as the uploader's video, whatever it names."""
    root = tmp_path_factory.mktemp("hostile")
    secret = root / "secret.mp4"  # a video on the transcoder's disk that is not the upload
    secret.write_bytes(clips["small"].read_bytes())
    playlist = "#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:3.0,\n{}\n#EXT-X-ENDLIST\n"
    files = {
        "hls_local_file": (root / "a.m3u8", playlist.format(f"file://{secret}")),
        "hls_passwd": (root / "b.m3u8", playlist.format("file:///etc/passwd")),
        "hls_http": (root / "c.m3u8", playlist.format("http://169.254.169.254/latest/meta-data/")),
        "concat": (root / "upload", "ffconcat version 1.0\nfile 'secret.mp4'\n"),
    }
    for path, text in files.values():
        path.write_text(text)
    return {name: path for name, (path, _) in files.items()}


@pytest.mark.parametrize("name", ["hls_local_file", "hls_passwd", "hls_http", "concat"])
def test_the_probe_refuses_playlists_and_scripts(hostile: dict[str, Path], name: str) -> None:
    # Before the whitelist, the local-file playlist and the concat script probed as a 3 s 640x360 video.
    with pytest.raises(UnplayableSourceError, match="only video containers are accepted"):
        probe(hostile[name])


@pytest.mark.parametrize("name", ["hls_local_file", "concat"])
def test_ffmpeg_refuses_playlists_and_scripts(hostile: dict[str, Path], name: str, tmp_path: Path) -> None:
    # Even past the probe (a forged SourceInfo), every FFmpeg run opens its input under the same whitelist.
    info = SourceInfo(3, 640, 360, 0, 25, True, "h264", None)
    with pytest.raises(EncodeError, match="not on whitelist"):
        encode_ladder(LadderJob(hostile[name], tmp_path / "out", info, tuple(ladder(info))))
    with pytest.raises(EncodeError, match="not on whitelist"):
        make_poster(hostile[name], info, tmp_path / "poster.jpg")
    with pytest.raises(EncodeError, match="not on whitelist"):
        make_storyboard(hostile[name], info, tmp_path / "s.jpg", tmp_path / "s.vtt", "s.jpg")
    with pytest.raises(EncodeError, match="not on whitelist"):
        chunks.encode_audio(hostile[name], tmp_path / "audio", 3)
    assert not list((tmp_path / "out").rglob("*.ts"))


@pytest.mark.parametrize(
    ("extension", "codec"),
    [("mp4", "libx264"), ("mov", "libx264"), ("webm", "libvpx-vp9"), ("mkv", "libx264")],
)
def test_real_containers_still_transcode(extension: str, codec: str, tmp_path: Path) -> None:
    source = tmp_path / "source"  # as the transcoder stores it: no extension to go by
    subprocess.run(
        [
            *ffmpeg("-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=2"),
            "-c:v",
            codec,
            "-pix_fmt",
            "yuv420p",
            "-f",
            {"mp4": "mp4", "mov": "mov", "webm": "webm", "mkv": "matroska"}[extension],
            str(source),
        ],
        check=True,
    )
    info = probe(source)
    renditions = ladder(info)
    encode_ladder(LadderJob(source, tmp_path / "out", info, tuple(renditions)))
    make_poster(source, info, tmp_path / "poster.jpg")
    assert m3u8.load(str(tmp_path / "out" / renditions[0].name / "index.m3u8")).segments
