"""`skyreel` against a local cloud, as a user or a script runs it: exit codes, stdout, stderr."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import httpx
import imageio_ffmpeg
import pytest

from cli.config import Sessions
from cli.main import USAGE_FIELDS
from infra.local.cloud import LocalCloud, free_port
from tests.cli.conftest import Logs, Run
from tests.clips import make_clip
from tests.integration.conftest import User, eventually, sign_up

pytestmark = pytest.mark.integration


def _json(done: subprocess.CompletedProcess[str]) -> dict:  # type: ignore[type-arg]
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def test_upload_wait_play_list_search_delete(skyreel: Run, account: User, tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "clip.mp4", "320x240", 3)  # clip.mp4: the name this topology transcodes
    done = skyreel(
        "upload", str(clip), "--title", "Sunset over Lisbon", "--tag", "travel", "--description", "harbour",
        "--wait", "--json",
    )  # fmt: skip
    video = _json(done)
    assert video["status"] == "ready", video
    assert (video["title"], video["tags"], video["visibility"]) == (
        "Sunset over Lisbon",
        ["travel"],
        "private",
    )
    assert "uploading" in done.stderr
    assert "is ready" in done.stderr
    video_id = video["id"]

    url = skyreel("play", video_id)
    assert url.returncode == 0, url.stderr
    hls_url = url.stdout.strip()
    assert hls_url.startswith("http")
    assert hls_url.endswith("/master.m3u8")
    assert "\n" not in hls_url
    decoded = subprocess.run(  # the URL alone plays: FFmpeg with nothing else decodes it
        [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-i", hls_url, "-t", "1", "-f", "null", "-"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert decoded.returncode == 0, decoded.stderr
    assert set(_json(skyreel("play", video_id, "--json"))) == {
        "hls_url",
        "poster_url",
        "storyboard_url",
        "expires_at",
    }

    listed = _json(skyreel("videos", "list", "--json"))
    assert [v["id"] for v in listed["items"]] == [video_id]
    assert listed["next_cursor"] is None
    table = skyreel("videos", "list")
    assert video_id in table.stdout
    assert "Sunset over Lisbon" in table.stdout
    assert "ready" in table.stdout
    assert _json(skyreel("videos", "show", video_id, "--json"))["id"] == video_id
    assert "240p" in skyreel("videos", "show", video_id).stdout

    found = eventually(lambda: _json(skyreel("search", "lisbon", "--json"))["results"], timeout=30)
    assert [hit["video_id"] for hit in found] == [video_id]
    fuzzy = _json(skyreel("search", "lisbn", "--fuzzy", "--json"))
    assert fuzzy["algorithm"] == "fuzzy"
    assert [h["video_id"] for h in fuzzy["results"]] == [video_id]

    assert (
        _json(skyreel("videos", "update", video_id, "--title", "Lisbon at dusk", "--json"))["title"]
        == "Lisbon at dusk"
    )
    deleting = _json(skyreel("videos", "delete", video_id, "--json"))
    assert deleting["video"]["status"] == "deleting"
    gone = eventually(lambda: (d := skyreel("videos", "show", video_id)).returncode == 1 and d, timeout=30)
    assert f"No video {video_id}" in gone.stderr
    assert "HTTP 404" in gone.stderr
    assert gone.stdout == ""


def test_keys_create_list_revoke(skyreel: Run, account: User) -> None:
    created = skyreel("keys", "create", "ci reader", "--scope", "videos:read", "--scope", "search")
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip()
    assert key.startswith("skr_")
    assert "not shown again" in created.stderr
    listed = _json(skyreel("keys", "list", "--json"))["items"]
    (entry,) = listed
    assert (entry["name"], sorted(entry["scopes"])) == ("ci reader", ["search", "videos:read"])
    assert key not in json.dumps(listed)  # only the prefix is ever listed
    assert entry["prefix"] in skyreel("keys", "list").stdout

    with_key = {"SKYREEL_API_KEY": key}
    assert _json(skyreel("videos", "list", "--json", env=with_key))["items"] == []
    refused = skyreel("videos", "update", "whatever", "--title", "x", env=with_key)  # no videos:write
    assert refused.returncode == 1
    assert "HTTP 403" in refused.stderr

    revoked = skyreel("keys", "revoke", entry["id"])
    assert revoked.returncode == 0, revoked.stderr
    after = skyreel("videos", "list", env=with_key)
    assert after.returncode == 1
    assert "error: Missing or invalid credentials. (unauthenticated, HTTP 401)" in after.stderr
    assert _json(skyreel("keys", "list", "--json"))["items"] == []


def test_errors_exit_codes_and_messages(
    skyreel: Run, http: httpx.Client, tmp_path: Path, config_dir: Path
) -> None:
    not_signed_in = skyreel("videos", "list")
    assert not_signed_in.returncode == 3
    assert "Not signed in" in not_signed_in.stderr

    user = sign_up(http)
    wrong = skyreel("login", "--email", user.email, env={"SKYREEL_PASSWORD": "not the password at all"})
    assert wrong.returncode == 1
    assert "The email or the password is wrong." in wrong.stderr
    assert skyreel("login", "--email", user.email, env={"SKYREEL_PASSWORD": user.password}).returncode == 0

    unknown = skyreel("videos", "show", "no-such-video")
    assert unknown.returncode == 1
    assert "No video no-such-video." in unknown.stderr
    assert unknown.stdout == ""

    notes = tmp_path / "notes.txt"
    notes.write_text("not a video")
    refused = skyreel("upload", str(notes))
    assert refused.returncode == 1, refused.stderr
    assert "HTTP 415" in refused.stderr
    assert _json(skyreel("videos", "list", "--json"))["items"] == []  # and nothing was created
    assert json.loads((config_dir / "uploads.json").read_text()) == {}  # nor left to resume

    bad_scope = skyreel("keys", "create", "x", "--scope", "everything")
    assert bad_scope.returncode == 1
    assert "HTTP 422" in bad_scope.stderr
    assert "scopes" in bad_scope.stderr  # the field the API named

    missing = skyreel("upload", str(tmp_path / "absent.mp4"))  # bad usage: 2, as for any command line
    assert missing.returncode == 2
    assert "does not exist" in missing.stderr
    assert skyreel("videos", "update", "x").returncode == 2  # nothing to change

    unreachable = skyreel(
        "--api-url", f"http://127.0.0.1:{free_port()}", "videos", "list", env={"SKYREEL_API_KEY": "k"}
    )
    assert unreachable.returncode == 3
    assert "Cannot reach" in unreachable.stderr

    usage = _json(skyreel("usage", "--json"))  # the API's own answer, fields as the usage API names them
    assert set(USAGE_FIELDS) <= set(usage)
    assert isinstance(usage["total_requests"], int)
    reversed_range = skyreel("usage", "--from", "2026-02-01", "--to", "2026-01-01")
    assert reversed_range.returncode == 1
    assert "HTTP 422" in reversed_range.stderr


def test_a_refused_credential_is_one_log_line(skyreel: Run, logs: Logs, cloud: LocalCloud) -> None:
    """The authorizer's 401 answer (an exception named Unauthorized, API Gateway's contract) is a refusal,
    not a crash: the log says why in one line, with no traceback."""
    mark = logs.mark()
    refused = skyreel("videos", "list", env={"SKYREEL_API_KEY": "skr_bogus"})
    assert refused.returncode == 1
    assert "HTTP 401" in refused.stderr
    eventually(lambda: logs.since(mark, "auth_authorizer"), timeout=5)
    time.sleep(1)  # the sandbox's output streams in on its own thread: let any later line arrive
    lines = logs.since(mark, "auth_authorizer")
    assert len(lines) == 1, lines
    assert json.loads(lines[0])["message"] == "refused"
    assert "malformed" in json.loads(lines[0])["reason"]


def test_the_session_refreshes_and_ends(
    skyreel: Run, account: User, config_dir: Path, cloud: LocalCloud
) -> None:
    sessions = Sessions(config_dir)
    first = sessions.get(cloud.url)
    assert first is not None
    assert first.email == account.email
    assert oct(os.stat(config_dir / "sessions.json").st_mode & 0o777) == "0o600"
    first.access_expires_at = 0  # the access token has expired: the next command refreshes it
    sessions.put(cloud.url, first)
    assert skyreel("videos", "list").returncode == 0
    second = sessions.get(cloud.url)
    assert second is not None
    assert second.refresh_token != first.refresh_token
    assert skyreel("videos", "list").returncode == 0
    assert sessions.get(cloud.url).refresh_token == second.refresh_token  # type: ignore[union-attr]

    assert skyreel("logout").returncode == 0
    assert sessions.get(cloud.url) is None
    stale = Sessions(config_dir)  # the spent session, put back: its refresh is refused, and forgotten
    stale.put(cloud.url, second)
    stale.put(cloud.url, type(second)(second.refresh_token, None, 0, second.email))
    ended = skyreel("videos", "list")
    assert ended.returncode == 3
    assert "has ended" in ended.stderr
    assert sessions.get(cloud.url) is None
