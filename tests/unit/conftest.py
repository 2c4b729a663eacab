"""Fixtures shared by the unit tests of more than one module."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from functions.shared import aws
from functions.transcode import wiring
from infra.local.cloud import free_port
from infra.local.provision import _table_request
from infra.topology import TOPOLOGY


@pytest.fixture(scope="session")
def moto_over_http() -> Iterator[str]:
    """moto's server in a process of its own, for the tests whose FFmpeg (a process too) reads a presigned
    URL. Its own process, not a ThreadedMotoServer here: that shares this process's moto backends with any
    local cloud an integration test runs in the same worker, and resetting one would wipe the other."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("moto's server did not start") from None
                time.sleep(0.1)
        yield endpoint
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture
def buckets(monkeypatch: pytest.MonkeyPatch, moto_over_http: str) -> Iterator[None]:
    """The transcode function's environment against moto, chunking anything over 5 s in 4 s chunks. Moto
    serves over HTTP (`moto_over_http`): FFmpeg, a process of its own, reads the upload from a presigned
    URL. Each test starts from an empty moto."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_over_http)
    for name, value in {
        "VIDEOS_TABLE_NAME": "videos",
        "UPLOADS_BUCKET_NAME": "uploads",
        "MEDIA_BUCKET_NAME": "media",
        "EVENTS_EVENT_BUS_NAME": "bus",
        "CDN_DISTRIBUTION_ID": "local-no-cache",
        "CHUNK_THRESHOLD_S": "5",
        "CHUNK_S": "4",
    }.items():
        monkeypatch.setenv(name, value)
    wiring.reset()
    aws.reset_clients()
    try:
        boto3.client("dynamodb").create_table(**_table_request(TOPOLOGY.table("videos"), "videos"))
        for bucket in ("uploads", "media"):
            boto3.client("s3").create_bucket(Bucket=bucket)
        boto3.client("events").create_event_bus(Name="bus")
        yield
    finally:
        request = urllib.request.Request(f"{moto_over_http}/moto-api/reset", method="POST")
        urllib.request.urlopen(request, timeout=10).close()  # that server's state only
        aws.reset_clients()
        wiring.reset()


@pytest.fixture
def videos_aws() -> Iterator[None]:
    """The videos domain's resources in moto: its table (as the topology declares it), the uploads and media
    buckets and the event bus. Each test module builds its VideoService on it with its own limits."""
    with mock_aws():
        aws.reset_clients()
        boto3.client("dynamodb").create_table(**_table_request(TOPOLOGY.table("videos"), "videos"))
        for bucket in ("uploads", "media"):
            boto3.client("s3").create_bucket(Bucket=bucket)
        boto3.client("events").create_event_bus(Name="bus")
        yield
    aws.reset_clients()
