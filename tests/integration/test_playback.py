"""A private video plays from its playback URL alone (issue 8, section 1), through the local cloud's front
door: a real clip uploaded and transcoded, then fetched the way ffmpeg, VLC, AVPlayer or a CLI fetch it
(no cookies, every URL resolved relative to the playlist it came from); and the hostile cases refused."""

from __future__ import annotations

import http.client
import subprocess
import time
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
import imageio_ffmpeg
import m3u8
import pytest

from infra.local.cloud import LocalCloud
from tests.clips import make_clip
from tests.integration.conftest import User, media_token, sign_up
from tests.integration.test_publish import settled, upload
from tests.integration.test_videos import VIDEOS, create, make_ready

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def private_video(
    http: httpx.Client, tmp_path_factory: pytest.TempPathFactory
) -> tuple[User, str, dict[str, Any]]:
    """A real private clip, transcoded by the pipeline, and its playback answer."""
    user = sign_up(http)
    clip = make_clip(tmp_path_factory.mktemp("clip") / "clip.mp4", "640x360", 4)
    video_id = upload(http, user, clip.read_bytes(), visibility="private")
    ready = settled(http, user, video_id)
    assert ready["status"] == "ready", ready
    playback = http.get(f"{VIDEOS}/{video_id}/playback", headers=user.headers)
    assert playback.status_code == 200, playback.text
    return user, video_id, playback.json()


def test_a_private_video_plays_from_its_url_alone(private_video: tuple[User, str, dict[str, Any]]) -> None:
    """The user's complaint: the master playlist answered 200 and its first variant 403 without cookies."""
    _, _, urls = private_video
    with httpx.Client(cookies=None) as player:  # a fresh client: no cookies, nothing but the URL
        master_response = player.get(urls["hls_url"])
        assert master_response.status_code == 200, master_response.text
        master = m3u8.loads(master_response.text)
        assert master.playlists, "the master playlist lists no variants"
        for variant in master.playlists:
            variant_url = urljoin(urls["hls_url"], variant.uri)
            variant_response = player.get(variant_url)
            assert variant_response.status_code == 200, variant_url
            segments = m3u8.loads(variant_response.text).segments
            assert segments, variant_url
            first = player.get(urljoin(variant_url, segments[0].uri))
            assert first.status_code == 200, segments[0].uri
            assert first.content
        assert player.get(urls["poster_url"]).status_code == 200
        assert player.get(urls["storyboard_url"]).status_code == 200
        assert not player.cookies


def test_ffmpeg_plays_the_private_url_alone(private_video: tuple[User, str, dict[str, Any]]) -> None:
    """Any player: FFmpeg's HLS demuxer, given nothing but hls_url, decodes the stream."""
    _, _, urls = private_video
    ran = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-i", urls["hls_url"], "-t", "1", "-f", "null", "-"],
        capture_output=True,
        text=True,
        timeout=120,  # generous: the test machine may be busy
        check=False,
    )
    assert ran.returncode == 0, ran.stderr


# --- hostile requests, sent byte for byte (httpx would normalise `..` and `//` away) ---------------------


def raw_get(cloud: LocalCloud, path: str, host: str | None = None) -> int:
    parts = urlsplit(cloud.url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)
    try:
        headers = {"Host": host} if host is not None else {}
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


@pytest.fixture(scope="module")
def two_videos(http: httpx.Client, cloud: LocalCloud) -> tuple[str, str, str]:
    """Two ready private videos of one owner and a valid token for the first: (token, a, b)."""
    user = sign_up(http)
    a, b = (create(http, user)["video"]["id"] for _ in range(2))
    for video_id in (a, b):
        make_ready(cloud, video_id, f"hls/{video_id}/")
    cloud.aws.client("s3").put_object(
        Bucket=cloud.names.bucket("uploads"), Key=f"originals/{a}/secret.mp4", Body=b"original"
    )
    urls = http.get(f"{VIDEOS}/{a}/playback", headers=user.headers).json()
    token = urlsplit(urls["hls_url"]).path.split("/")[3]
    return token, a, b


def test_the_valid_token_opens_its_own_video(cloud: LocalCloud, two_videos: tuple[str, str, str]) -> None:
    token, a, _ = two_videos
    assert raw_get(cloud, f"/media/s/{token}/hls/{a}/master.m3u8") == 200
    assert raw_get(cloud, f"/media/s/{token}/hls/{a}/720p/seg_00000.ts") == 200


@pytest.mark.parametrize(
    "path",
    [
        "/media/s/{token}/hls/{b}/master.m3u8",  # another video
        "/media/s/{token}/hls/{b}/720p/seg_00000.ts",
        "/media/s/{token}/public/hls/{a}/master.m3u8",  # another path
        "/media/s/{token}/originals/{a}/secret.mp4",
        "/media/s/{token}/hls/{a}/../{b}/master.m3u8",  # traversal
        "/media/s/{token}/hls/{a}/%2e%2e/{b}/master.m3u8",
        "/media/s/{token}/hls/{a}/..%2f{b}%2fmaster.m3u8",
        "/media/s/{token}/hls/{a}%2F..%2F{b}/master.m3u8",
        "/media/s/{token}/hls/{a}/..%5c{b}%5cmaster.m3u8",
        "/media/s/{token}/hls/{a}//master.m3u8",
        "/media/public/../hls/{b}/master.m3u8",  # traversal out of the public path
        "/media/public/%2e%2e/hls/{b}/master.m3u8",
        "/media/hls/{a}/master.m3u8",  # no token
        "/media/originals/{a}/secret.mp4",
    ],
)
def test_hostile_paths_are_refused(cloud: LocalCloud, two_videos: tuple[str, str, str], path: str) -> None:
    token, a, b = two_videos
    assert raw_get(cloud, path.format(token=token, a=a, b=b)) == 403


def test_expired_tampered_and_unknown_tokens_are_refused(
    cloud: LocalCloud, two_videos: tuple[str, str, str]
) -> None:
    token, a, _ = two_videos
    kid, expires, signature = token.split(".")
    expired = media_token(cloud, a, int(time.time()) - 1)
    flipped = signature[:5] + ("A" if signature[5] != "A" else "B") + signature[6:]
    for bad in (
        expired,
        f"{kid}.{expires}.{flipped}",  # tampered signature
        f"{kid}.{int(expires) + 3600}.{signature}",  # tampered expiry
        f"mUNKNOWN.{expires}.{signature}",  # unknown key id
        f"{kid}.{expires}",  # malformed
    ):
        assert raw_get(cloud, f"/media/s/{bad}/hls/{a}/master.m3u8") == 403, bad


def test_a_crafted_host_header_cannot_open_another_videos_playlist(
    cloud: LocalCloud, two_videos: tuple[str, str, str]
) -> None:
    """The old check built the URL it verified from the client's Host, with a wildcard spanning `/`, so a
    Host ending in one video's path made that video's signature open another's playlist."""
    token, a, b = two_videos
    origin = urlsplit(cloud.url).netloc
    for host in (f"{origin}/media/s/{token}/hls/{a}/x", f"{origin}/media/hls/{a}/x", "evil.example"):
        assert raw_get(cloud, f"/media/s/{token}/hls/{b}/master.m3u8", host=host) == 403, host
        assert raw_get(cloud, f"/media/hls/{b}/master.m3u8?x", host=host) == 403, host
    assert raw_get(cloud, f"/media/s/{token}/hls/{a}/master.m3u8", host="evil.example") == 200
