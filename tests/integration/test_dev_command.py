"""`python -m infra.local` (what `make dev` runs) as a user runs it: start, use, Ctrl-C, start again."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import boto3
import httpx
import pytest

from infra.local.cloud import free_port
from infra.model import ROOT
from infra.topology import TOPOLOGY

pytestmark = pytest.mark.integration


@dataclass
class DevRun:
    process: subprocess.Popen[str]
    output: str = ""  # everything it printed, set once the run has stopped


@contextmanager
def dev(state_dir: Path, port: int, aws_port: int) -> Iterator[DevRun]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "infra.local",
            "--port",
            str(port),
            "--aws-port",
            str(aws_port),
            "--state-dir",
            str(state_dir),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=dict(os.environ),
    )
    run = DevRun(process)
    try:
        deadline = time.monotonic() + 120  # a cold start on a busy 2-core machine
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=15).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                if process.poll() is None:  # still starting: stop it, or reading its output waits forever
                    process.kill()
                raise AssertionError(
                    f"make dev did not become healthy:\n{process.communicate(timeout=30)[0]}"
                )
            time.sleep(0.1)
        yield run
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
        output = process.communicate(timeout=30)[0]
        run.output = output
        if process.returncode != 0:
            raise AssertionError(f"exit {process.returncode} after Ctrl-C:\n{output}")
        # The local cloud itself never crashes. A function's own error is logged under its name, with its
        # traceback, as Lambda logs it ("transcode | Traceback ..."): that is not the platform failing.
        assert not [line for line in output.splitlines() if line.startswith("Traceback")], output


def test_state_survives_a_restart(tmp_path: Path) -> None:
    port, aws_port = free_port(), free_port()
    endpoint = f"http://127.0.0.1:{aws_port}"
    session = boto3.session.Session(aws_access_key_id="x", aws_secret_access_key="x", region_name="us-east-1")
    ddb, s3 = session.client("dynamodb", endpoint_url=endpoint), session.client("s3", endpoint_url=endpoint)
    sm = session.client("secretsmanager", endpoint_url=endpoint)

    with dev(tmp_path, port, aws_port) as first:
        ddb.put_item(
            TableName="skyreel-videos",
            Item={"pk": {"S": "VIDEO#1"}, "sk": {"S": "META"}, "title": {"S": "kept"}},
        )
        s3.put_object(
            Bucket="skyreel-media",
            Key="hls/1/master.m3u8",
            Body=b"#EXTM3U\n",
            ContentType="application/vnd.apple.mpegurl",
            CacheControl="max-age=5",
        )
        s3.put_object(Bucket="skyreel-uploads", Key="originals/1/clip.mp4", Body=b"video")
        key_before = sm.get_secret_value(SecretId="skyreel/media_token_keys")["SecretString"]
        # Wait until the ingest function has taken the upload's notification off its queue (so it logged).
        sqs = session.client("sqs", endpoint_url=endpoint)
        ingest = sqs.get_queue_url(QueueName="skyreel-ingest")["QueueUrl"]
        counts = ("ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible")
        deadline = time.monotonic() + 30
        while any(
            int(v)
            for v in sqs.get_queue_attributes(QueueUrl=ingest, AttributeNames=list(counts))[
                "Attributes"
            ].values()
        ):
            assert time.monotonic() < deadline, "the upload notification was never consumed"
            time.sleep(0.2)

    lines = first.output.splitlines()
    banner = lines[: lines.index("Press Ctrl-C to stop.") + 1]
    assert f"Skyreel is running at http://127.0.0.1:{port}" in banner[0]
    # One line per function: its id, memory and timeout, then its routes or "events only".
    for fn in TOPOLOGY.functions:
        (row,) = [b for b in banner if b.split()[:1] == [fn.id]]
        assert f"{fn.memory_mb} MB" in row
        assert ("events only" in row) == (not TOPOLOGY.routes_of(fn.id))
    assert "GET /api/v1/health" in next(b for b in banner if b.split()[:1] == ["platform"])
    # Logs are labelled by who wrote them: the front door's access lines and each function's own lines.
    assert re.search(r"^\s*frontdoor \| GET /api/v1/health 200 ", first.output, re.MULTILINE)
    assert re.search(r"^\s*videos_ingest \| INFO +upload notification", first.output, re.MULTILINE)

    with dev(tmp_path, port, aws_port):
        item = ddb.get_item(TableName="skyreel-videos", Key={"pk": {"S": "VIDEO#1"}, "sk": {"S": "META"}})
        assert item["Item"]["title"]["S"] == "kept"
        obj = s3.get_object(Bucket="skyreel-media", Key="hls/1/master.m3u8")
        assert obj["Body"].read() == b"#EXTM3U\n"
        assert obj["ContentType"] == "application/vnd.apple.mpegurl"
        assert obj["CacheControl"] == "max-age=5"
        # Signing keys must survive too, or every signed URL and token issued before a restart breaks.
        assert sm.get_secret_value(SecretId="skyreel/media_token_keys")["SecretString"] == key_before
        # Restoring an upload must not look like a new upload to the ingest trigger. (S3 itself sends an
        # s3:TestEvent when notifications are configured, as AWS does; consumers skip it.)
        queue = session.client("sqs", endpoint_url=endpoint)
        url = queue.get_queue_url(QueueName="skyreel-ingest")["QueueUrl"]
        messages = queue.receive_message(QueueUrl=url, WaitTimeSeconds=1, MaxNumberOfMessages=10).get(
            "Messages", []
        )
        assert not [m for m in messages if '"Records"' in m["Body"]]


def test_ctrl_c_while_starting_stops_cleanly(tmp_path: Path) -> None:
    """Ctrl-C as soon as the AWS endpoint answers, i.e. in the middle of provisioning."""
    port, aws_port = free_port(), free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "infra.local", "--port", str(port), "--aws-port", str(aws_port), "--no-state"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 60
    while process.poll() is None and time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{aws_port}/moto-api/", timeout=1)
            break
        except httpx.TransportError:
            time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    output = process.communicate(timeout=30)[0]
    assert process.returncode == 0, output
    assert "Traceback" not in output, output
    assert "stopped." in output
    for used in (port, aws_port):  # nothing is left listening
        with pytest.raises(httpx.TransportError):
            httpx.get(f"http://127.0.0.1:{used}/", timeout=1)


def test_an_upload_url_issued_before_a_restart_works_after_it(tmp_path: Path) -> None:
    """Upload URLs are valid for 24 h; moto's port changes on every start, the front door's does not."""
    port = free_port()
    api = f"http://127.0.0.1:{port}/api/v1"
    credentials = {"email": "restart@example.com", "password": "a long enough passphrase"}
    with dev(tmp_path, port, free_port()):
        assert httpx.post(f"{api}/auth/register", json=credentials, timeout=30).status_code == 201
        token = httpx.post(f"{api}/auth/login", json=credentials, timeout=30).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        body = {
            "title": "x",
            "upload": {"filename": "a.mp4", "content_type": "video/mp4", "size_bytes": 1000},
        }
        created = httpx.post(f"{api}/videos", json=body, headers=headers, timeout=30).json()
        upload, video_id = created["upload"], created["video"]["id"]
        assert upload["url"].startswith(f"http://127.0.0.1:{port}/")

    with dev(tmp_path, port, free_port()):  # a new AWS endpoint port, as `make dev` picks each time
        stored = httpx.put(upload["url"], content=b"v" * 1000, headers=upload["headers"], timeout=30)
        assert stored.status_code == 200, stored.text
        deadline = time.monotonic() + 30
        # Arrived: `uploaded`, or already further (the publish workflow claims it at once, and fails it:
        # these 1,000 bytes are not a video).
        while (
            httpx.get(f"{api}/videos/{video_id}", headers=headers, timeout=30).json()["status"]
            == "awaiting_upload"
        ):
            assert time.monotonic() < deadline, "the upload never reached the video"
            time.sleep(0.2)


def test_ready_means_the_first_requests_start_no_sandbox() -> None:
    """`make dev` prints its "ready in" banner after `warm()`: by then every API function and the
    authorizer has a sandbox, so neither a public nor a protected first request waits for a cold start."""
    probe = subprocess.run(  # a process of its own: this one already runs the suite's cloud
        [sys.executable, "-m", "tests.integration.warm_probe"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert probe.returncode == 0, probe.stderr
    seen = json.loads(probe.stdout.strip().splitlines()[-1])
    assert seen["warm"], "the prewarmed sandboxes did not start"
    assert TOPOLOGY.api.authorizer is not None
    serving = {r.function for r in TOPOLOGY.api.routes} | {TOPOLOGY.api.authorizer.function}
    before, after = seen["before"], seen["after"]
    assert {fid for fid in serving if before.get(fid, {}).get("warm", 0) >= 1} == serving
    assert (seen["health"], seen["refused"]) == (200, 401)
    for fid in ("platform", TOPOLOGY.api.authorizer.function):
        assert after[fid]["invocations"] > before[fid]["invocations"]
        assert after[fid]["cold_starts"] == before[fid]["cold_starts"], fid
