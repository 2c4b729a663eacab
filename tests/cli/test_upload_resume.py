"""An upload interrupted after some parts, run again: only the missing parts are sent, and the file
assembled at the other end is the one on disk, byte for byte. In-process, so the interruption lands at a
known point: the HTTP client's transport (the one seam, `cli.api.new_client`) stops the upload as a Ctrl-C
would, when the third part is about to go."""

from __future__ import annotations

import json
import os
from pathlib import Path

import httpx
import pytest

import cli.api
from cli.main import main
from infra.local.cloud import LocalCloud
from tests.integration.conftest import eventually, sign_up

pytestmark = pytest.mark.integration
MIB = 2**20


class Parts(httpx.HTTPTransport):
    """The real transport, recording which parts went up; with `stop_after`, a Ctrl-C before part n+1."""

    def __init__(self, stop_after: int | None = None) -> None:
        super().__init__()
        self.sent: list[int] = []
        self.stop_after = stop_after

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        part = request.url.params.get("partNumber")
        if request.method != "PUT" or part is None:
            return super().handle_request(request)
        if self.stop_after is not None and len(self.sent) >= self.stop_after:
            raise KeyboardInterrupt
        response = super().handle_request(request)
        self.sent.append(int(part))
        return response


def test_an_interrupted_upload_resumes_with_only_the_missing_parts(
    cloud: LocalCloud,
    http: httpx.Client,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    user = sign_up(http)
    for name in ("SKYREEL_API_KEY", "SKYREEL_EMAIL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SKYREEL_API_URL", cloud.url)
    monkeypatch.setenv("SKYREEL_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("SKYREEL_PASSWORD", user.password)
    assert main(["login", "--email", user.email]) == 0
    data = os.urandom(15 * MIB + 12345)  # multipart in this topology: four 5 MiB parts, the last shorter
    path = tmp_path / "holiday.mp4"
    path.write_bytes(data)

    first = Parts(stop_after=2)
    monkeypatch.setattr(cli.api, "new_client", lambda: httpx.Client(transport=first, timeout=60))
    assert main(["upload", str(path), "--parallel", "1"]) == 130
    stopped = capsys.readouterr()
    assert first.sent == [1, 2]
    assert "2 of 4 parts sent" in stopped.err
    assert "run the same command again" in stopped.err
    assert stopped.out == ""
    (video,) = http.get("/api/v1/videos", headers=user.headers).json()["items"]
    progress = http.get(f"/api/v1/videos/{video['id']}/upload", headers=user.headers).json()
    assert [p["part_number"] for p in progress["received"]] == [1, 2]  # the API has what was sent

    second = Parts()
    monkeypatch.setattr(cli.api, "new_client", lambda: httpx.Client(transport=second, timeout=60))
    assert main(["upload", str(path), "--json"]) == 0
    resumed = capsys.readouterr()
    assert sorted(second.sent) == [3, 4]  # only the missing parts
    assert f"Resuming the upload of video {video['id']}" in resumed.err
    assert json.loads(resumed.out)["id"] == video["id"]  # the same video, not a second one
    assert len(http.get("/api/v1/videos", headers=user.headers).json()["items"]) == 1

    eventually(
        lambda: (
            http.get(f"/api/v1/videos/{video['id']}", headers=user.headers).json()["status"] == "uploaded"
        ),
        timeout=30,
    )
    s3 = cloud.aws.client("s3")
    bucket = cloud.names.bucket("uploads")
    (key,) = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"] if video["id"] in o["Key"]]
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == data

    # Done: the next run of the same command is a new upload, not a resume of the finished one.
    assert json.loads((tmp_path / "config" / "uploads.json").read_text()) == {}
