"""Real videos through the whole local pipeline: upload -> ingest -> publish workflow (claim, transcode,
ready) -> playback, checked by parsing the playlists and decoding segments fetched through /media."""

from __future__ import annotations

import io
import itertools
import json
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import av
import httpx
import m3u8
import pytest

from functions.transcode.encoder import ffmpeg
from infra.local.cloud import LocalCloud
from tests.clips import make_clip
from tests.integration.conftest import User, eventually, records
from tests.integration.test_videos import VIDEOS, objects, put_file, video

pytestmark = pytest.mark.integration


def _clip(path: Path, size: str, seconds: float, audio: bool = True, rotate: int | None = None) -> Path:
    return make_clip(path, size, seconds, audio=audio, rotate=rotate)


def upload(http: httpx.Client, user: User, data: bytes, visibility: str = "private") -> str:
    created = http.post(
        VIDEOS,
        headers=user.headers,
        json={
            "title": "clip",
            "visibility": visibility,
            "upload": {"filename": "clip.mp4", "content_type": "video/mp4", "size_bytes": len(data)},
        },
    )
    assert created.status_code == 201, created.text
    instructions, video_id = created.json()["upload"], created.json()["video"]["id"]
    if instructions["method"] == "PUT":
        put_file(instructions, data)
    else:  # large enough for the (test-sized) multipart threshold: send the parts, then complete
        size = instructions["part_size"]
        parts = [
            {
                "part_number": p["part_number"],
                "etag": httpx.put(
                    p["url"], content=data[(p["part_number"] - 1) * size : p["part_number"] * size]
                ).headers["etag"],
            }
            for p in instructions["parts"]
        ]
        done = http.post(f"{VIDEOS}/{video_id}/upload/complete", headers=user.headers, json={"parts": parts})
        assert done.status_code == 200, done.text
    return video_id  # type: ignore[no-any-return]


def settled(http: httpx.Client, user: User, video_id: str, timeout: float = 120) -> dict[str, Any]:
    return eventually(
        lambda: (v := video(http, user, video_id))["status"] in {"ready", "failed"} and v,  # type: ignore[no-any-return]
        timeout=timeout,
        interval=0.5,
    )


def test_a_landscape_video_becomes_a_playable_ladder(
    http: httpx.Client, cloud: LocalCloud, user: User, tmp_path: Path
) -> None:
    video_id = upload(http, user, _clip(tmp_path / "a.mp4", "854x480", 9).read_bytes())
    ready = settled(http, user, video_id)
    assert ready["status"] == "ready", ready
    assert ready["progress"] == 100
    assert (ready["width"], ready["height"]) == (854, 480)
    assert ready["duration_s"] == pytest.approx(9, abs=0.2)
    assert [r["name"] for r in ready["renditions"]] == ["480p", "360p", "240p"]

    playback = http.get(f"{VIDEOS}/{video_id}/playback", headers=user.headers)
    assert playback.status_code == 200
    master_response = httpx.get(playback.json()["hls_url"])
    assert master_response.status_code == 200
    assert master_response.headers["content-type"] == "application/vnd.apple.mpegurl"
    # Playlists are short-lived in caches (they are rewritten by a re-encode); segments are immutable.
    assert master_response.headers["cache-control"] == "public, max-age=60"
    master = m3u8.loads(master_response.text)
    assert [p.stream_info.resolution for p in master.playlists] == [
        (r["width"], r["height"]) for r in ready["renditions"]
    ]
    assert master.playlists[0].stream_info.resolution == (854, 480)
    base = playback.json()["hls_url"].split("?", 1)[0].rsplit("/", 1)[0]
    variant_response = httpx.get(f"{base}/{master.playlists[1].uri}")
    assert variant_response.headers["content-type"] == "application/vnd.apple.mpegurl"
    assert variant_response.headers["cache-control"] == "public, max-age=60"
    variant = m3u8.loads(variant_response.text)
    assert sum(float(s.duration) for s in variant.segments) == pytest.approx(9, abs=0.2)
    segment = httpx.get(f"{base}/360p/{variant.segments[0].uri}")
    assert segment.status_code == 200
    assert segment.headers["cache-control"] == "public, max-age=31536000, immutable"
    with av.open(io.BytesIO(segment.content), format="mpegts") as container:
        frame = next(container.decode(video=0))
        assert (frame.width, frame.height) == (640, 360)
        assert container.streams.audio
    assert httpx.get(f"{base}/poster.jpg").headers["content-type"] == "image/jpeg"
    assert "#xywh=" in httpx.get(f"{base}/storyboard.vtt").text
    events = eventually(
        lambda: [
            json.loads(p)["detail-type"]
            for p in records(cloud, "eventbridge")
            if video_id in p and '"video.ready"' in p
        ]
    )
    assert events == ["video.ready"]


def test_a_phone_video_without_sound_stays_portrait(http: httpx.Client, user: User, tmp_path: Path) -> None:
    data = _clip(tmp_path / "p.mp4", "640x360", 3, audio=False, rotate=90).read_bytes()
    ready = settled(http, user, upload(http, user, data))
    assert ready["status"] == "ready", ready
    assert (ready["width"], ready["height"]) == (360, 640)
    assert all(r["height"] > r["width"] for r in ready["renditions"])
    assert all("mp4a" not in r["codecs"] for r in ready["renditions"])


def test_a_public_video_is_published_where_anyone_can_play_it(
    http: httpx.Client, cloud: LocalCloud, user: User, tmp_path: Path
) -> None:
    video_id = upload(http, user, _clip(tmp_path / "pub.mp4", "426x240", 2).read_bytes(), visibility="public")
    assert settled(http, user, video_id)["status"] == "ready"
    assert objects(cloud, "media", f"public/hls/{video_id}/")
    hls = http.get(f"{VIDEOS}/{video_id}/playback", headers=user.headers).json()["hls_url"]
    assert "?" not in hls
    assert httpx.get(hls).status_code == 200


def test_a_video_made_private_while_it_transcodes_is_never_written_to_public(
    http: httpx.Client, cloud: LocalCloud, user: User, tmp_path: Path
) -> None:
    data = _clip(tmp_path / "pub.mp4", "1280x720", 12).read_bytes()  # under 25 s: the whole-file path
    video_id = upload(http, user, data, visibility="public")
    eventually(lambda: video(http, user, video_id)["status"] == "processing", timeout=60, interval=0.1)
    made_private = http.patch(f"{VIDEOS}/{video_id}", headers=user.headers, json={"visibility": "private"})
    assert made_private.status_code == 200, made_private.text
    assert made_private.json()["status"] == "processing"  # changed while it transcodes
    seen_in_public: list[str] = []
    done = threading.Event()

    def watch() -> None:  # anything under public/ at any moment, not only at the end
        while not done.is_set():
            seen_in_public.extend(objects(cloud, "media", f"public/hls/{video_id}/"))
            time.sleep(0.05)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        ready = settled(http, user, video_id)
        time.sleep(2)  # a move the ready video would trigger has had time to run
    finally:
        done.set()
        watcher.join()
    assert ready["status"] == "ready", ready
    assert seen_in_public == []
    assert objects(cloud, "media", f"hls/{video_id}/")
    playback = http.get(f"{VIDEOS}/{video_id}/playback", headers=user.headers).json()
    assert playback["expires_at"] is not None  # signed: it plays from the private prefix
    assert httpx.get(playback["hls_url"]).status_code == 200


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"this is not a video, just text" * 100, "not a video file"),
        (b"\x00\x00\x00\x18ftypmp42" + bytes(2000), "not a video file|corrupt|no duration"),
    ],
)
def test_unplayable_uploads_fail_with_the_reason_and_leave_nothing(
    http: httpx.Client, cloud: LocalCloud, user: User, data: bytes, reason: str
) -> None:
    video_id = upload(http, user, data)
    failed = settled(http, user, video_id)
    assert failed["status"] == "failed"
    assert any(part in failed["error"] for part in reason.split("|")), failed["error"]
    assert objects(cloud, "media", f"hls/{video_id}/") == []
    event = eventually(
        lambda: [p for p in records(cloud, "eventbridge") if video_id in p and "video.failed" in p]
    )
    assert event


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        # an HLS playlist naming a local file, then an internal URL: never opened as a playlist
        (
            b"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:2.0,\nfile:///etc/passwd\n#EXT-X-ENDLIST\n",
            "not a video file",
        ),
        (
            b"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:2.0,\nhttp://169.254.169.254/\n#EXT-X-ENDLIST\n",
            "not a video file",
        ),
        # a concat script naming a file next to the source: refused as a container we do not accept
        (b"ffconcat version 1.0\nfile 'source'\n", "only video containers are accepted"),
    ],
    ids=["hls-file", "hls-http", "concat"],
)
def test_playlists_and_scripts_uploaded_as_video_are_refused(
    http: httpx.Client, cloud: LocalCloud, user: User, data: bytes, reason: str
) -> None:
    video_id = upload(http, user, data)
    failed = settled(http, user, video_id)
    assert failed["status"] == "failed", failed
    assert reason in failed["error"], failed["error"]
    assert objects(cloud, "media", f"hls/{video_id}/") == []


def test_a_duplicate_upload_event_transcodes_once(
    http: httpx.Client, cloud: LocalCloud, user: User, tmp_path: Path
) -> None:
    video_id = upload(http, user, _clip(tmp_path / "d.mp4", "426x240", 2).read_bytes())
    assert settled(http, user, video_id)["status"] == "ready"
    version = video(http, user, video_id)["version"]
    ready = next(
        json.loads(p) for p in records(cloud, "eventbridge") if video_id in p and "video.uploaded" in p
    )
    cloud.aws.client("events").put_events(
        Entries=[
            {  # S3 and SQS deliver at least once: the same event again
                "EventBusName": cloud.names.bus("events"),
                "Source": ready["source"],
                "DetailType": ready["detail-type"],
                "Detail": json.dumps(ready["detail"]),
            }
        ]
    )
    import time

    time.sleep(3)
    again = video(http, user, video_id)
    assert (again["status"], again["version"]) == ("ready", version)  # nothing claimed, nothing re-encoded


def test_cancel_mid_flight_stops_and_cleans_up(
    http: httpx.Client, cloud: LocalCloud, user: User, tmp_path: Path
) -> None:
    video_id = upload(http, user, _clip(tmp_path / "long.mp4", "1280x720", 40).read_bytes())
    eventually(lambda: video(http, user, video_id)["status"] == "processing", timeout=60, interval=0.2)
    cancelled = http.post(f"{VIDEOS}/{video_id}/transcode/cancel", headers=user.headers)
    assert cancelled.status_code == 202
    final = eventually(lambda: (v := video(http, user, video_id))["status"] == "failed" and v, timeout=60)
    assert "cancelled" in final["error"]

    def workflow_done() -> bool:
        sfn = cloud.aws.client("stepfunctions")
        runs = sfn.list_executions(stateMachineArn=cloud.names.state_machine_arn("publish"))["executions"]
        mine = [
            r
            for r in runs
            if video_id in json.dumps(sfn.describe_execution(executionArn=r["executionArn"]).get("input", ""))
        ]
        return bool(mine) and all(r["status"] != "RUNNING" for r in mine)

    eventually(workflow_done, timeout=90, interval=1)
    assert objects(cloud, "media", f"hls/{video_id}/") == []
    assert video(http, user, video_id)["status"] == "failed"  # the owner's reason was not overwritten
    assert "cancelled" in video(http, user, video_id)["error"]


def test_a_long_source_is_encoded_in_chunks_and_plays_seamlessly(
    http: httpx.Client, user: User, tmp_path: Path
) -> None:
    # The test topology chunks anything over 25 s in 12 s chunks: 30 s -> 12 + 12 + 6, in the workflow's Map.
    video_id = upload(http, user, make_clip(tmp_path / "long.mp4", "426x240", 30, fps=25).read_bytes())
    ready = settled(http, user, video_id, timeout=180)
    assert ready["status"] == "ready", ready
    assert ready["duration_s"] == pytest.approx(30, abs=0.2)
    playback = http.get(f"{VIDEOS}/{video_id}/playback", headers=user.headers)
    base = playback.json()["hls_url"].split("?", 1)[0].rsplit("/", 1)[0]
    master = m3u8.loads(httpx.get(f"{base}/master.m3u8").text)
    assert [m.group_id for m in master.media] == ["audio"]
    assert all(p.stream_info.audio == "audio" for p in master.playlists)
    variant = m3u8.loads(httpx.get(f"{base}/240p/index.m3u8").text)
    assert [s.uri for s in variant.segments] == [
        f"seg_{i:05d}.ts" for i in range(8)
    ]  # numbered on across chunks
    times: list[float] = []
    for segment in variant.segments:
        data = httpx.get(f"{base}/240p/{segment.uri}").content
        with av.open(io.BytesIO(data), format="mpegts") as container:
            times += [float(frame.time) for frame in container.decode(video=0)]
    assert len(times) == 750  # 30 s at 25 fps: no frame lost or doubled at the chunk boundaries
    assert {round(b - a, 3) for a, b in itertools.pairwise(times)} == {0.04}


def test_a_long_silent_source_is_chunked_and_its_progress_only_rises(
    http: httpx.Client, cloud: LocalCloud, user: User, tmp_path: Path
) -> None:
    # Over the test topology's 25 s: the chunked path, with no audio to encode once for the whole video.
    clip = make_clip(tmp_path / "silent.mp4", "426x240", 28, fps=25, audio=False)
    video_id = upload(http, user, clip.read_bytes())
    seen: list[int] = []

    def done() -> dict[str, Any] | None:
        v = video(http, user, video_id)
        seen.append(v["progress"])
        return v if v["status"] in {"ready", "failed"} else None

    ready = eventually(done, timeout=180, interval=0.3)
    assert ready["status"] == "ready", ready
    assert seen == sorted(seen), seen  # the record's progress never went down
    assert seen[-1] == 100
    assert all("mp4a" not in r["codecs"] for r in ready["renditions"])
    progress = eventually(  # the chunks announced their progress while they encoded
        lambda: [
            json.loads(p)["detail"]["progress"]
            for p in records(cloud, "eventbridge")
            if video_id in p and '"video.progress"' in p
        ]
    )
    assert max(progress) <= 99

    playback = http.get(f"{VIDEOS}/{video_id}/playback", headers=user.headers)
    base = playback.json()["hls_url"].split("?", 1)[0].rsplit("/", 1)[0]
    master = m3u8.loads(httpx.get(f"{base}/master.m3u8").text)
    assert master.media == []
    assert all(p.stream_info.audio is None for p in master.playlists)
    variant = m3u8.loads(httpx.get(f"{base}/240p/index.m3u8").text)
    frames = 0
    for segment in variant.segments:
        data = httpx.get(f"{base}/240p/{segment.uri}").content
        with av.open(io.BytesIO(data), format="mpegts") as container:
            assert not container.streams.audio
            frames += sum(1 for _ in container.decode(video=0))
    assert frames == 28 * 25


def test_a_zero_byte_upload_fails_with_the_reason(http: httpx.Client, cloud: LocalCloud, user: User) -> None:
    # An empty file cannot be declared (size_bytes > 0), but one can still arrive where a file was promised.
    created = http.post(
        VIDEOS,
        headers=user.headers,
        json={
            "title": "empty",
            "upload": {"filename": "clip.mp4", "content_type": "video/mp4", "size_bytes": 1000},
        },
    )
    # The presigned URL refuses a body of another length (as S3 does); the file lands by another way.
    key = f"originals/{created.json()['video']['id']}/clip.mp4"
    cloud.aws.client("s3").put_object(Bucket=cloud.names.bucket("uploads"), Key=key, Body=b"")
    failed = settled(http, user, created.json()["video"]["id"])
    assert failed["status"] == "failed"
    assert "0 bytes" in failed["error"]


def test_a_player_started_while_it_encodes_plays_to_the_end_without_a_gap(
    http: httpx.Client, user: User, tmp_path: Path
) -> None:
    """Playable before ready: once every rung's first segment is up, playback answers, and FFmpeg's HLS
    demuxer, started then from the first segment (a player), follows the growing playlists to the end."""
    video_id = upload(http, user, _clip(tmp_path / "live.mp4", "1280x720", 20).read_bytes())  # whole-file
    early = eventually(
        lambda: (v := video(http, user, video_id))["playable"] and v, timeout=120, interval=0.1
    )
    assert early["status"] == "processing", early  # playable, still encoding
    playback = http.get(f"{VIDEOS}/{video_id}/playback", headers=user.headers)
    assert playback.status_code == 200, playback.text
    hls_url = playback.json()["hls_url"]
    base = hls_url.rsplit("/", 1)[0]
    first = m3u8.loads(httpx.get(f"{base}/720p/index.m3u8").text)
    assert not first.is_endlist  # fetched while it still grows
    assert first.playlist_type == "event"
    remuxed = tmp_path / "played.ts"
    ran = subprocess.run(
        [
            *ffmpeg("-live_start_index", "0", "-i", hls_url),
            *["-map", "0:v:0", "-map", "0:a:0", "-c", "copy", "-f", "mpegts", str(remuxed)],
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr
    with av.open(str(remuxed)) as container:
        times = [float(frame.time) for frame in container.decode(video=0)]
    assert len(times) == 500  # 20 s at 25 fps, every frame once
    assert {round(b - a, 3) for a, b in itertools.pairwise(times)} == {0.04}  # no gap
    assert times[-1] - times[0] == pytest.approx(19.96, abs=0.01)
    assert settled(http, user, video_id)["status"] == "ready"
    final = m3u8.loads(httpx.get(f"{base}/720p/index.m3u8").text)
    assert final.is_endlist
    assert final.playlist_type == "vod"
