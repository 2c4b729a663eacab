"""Fixtures shared by the unit tests of more than one module."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws
from moto.moto_api._internal import moto_api_backend
from moto.server import ThreadedMotoServer

from functions.shared import aws
from functions.transcode import wiring
from infra.local.cloud import free_port
from infra.local.provision import _table_request
from infra.topology import TOPOLOGY


@pytest.fixture
def buckets(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The transcode function's environment against moto, chunking anything over 5 s in 4 s chunks. Moto
    serves over HTTP on a port of its own: FFmpeg, a process of its own, reads the upload from a
    presigned URL."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://{host}:{port}")
    for name, value in {
        "VIDEOS_TABLE_NAME": "videos",
        "UPLOADS_BUCKET_NAME": "uploads",
        "MEDIA_BUCKET_NAME": "media",
        "EVENTS_EVENT_BUS_NAME": "bus",
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
        server.stop()
        moto_api_backend.reset()  # the server's state is this process's moto backends
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
