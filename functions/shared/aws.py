"""boto3 clients, created lazily and once per process (a warm Lambda reuses them).

The endpoint comes from the environment: boto3 honours `AWS_ENDPOINT_URL` (and per-service
`AWS_ENDPOINT_URL_<SERVICE>`) natively, so the same code talks to AWS, the local cloud or LocalStack.
"""

from __future__ import annotations

import functools
import os
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_stepfunctions import SFNClient

# Standard retry mode with a short connect timeout: a Lambda should fail fast and let its caller retry.
_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=2, read_timeout=20)
# S3 signs with SigV4 explicitly: left to itself, botocore still presigns SigV2 URLs in us-east-1, and
# SigV2 does not sign Content-Length, so a presigned PUT would accept a body of any length.
_SERVICE_CONFIG = {"s3": Config(signature_version="s3v4")}


@functools.cache
def _session() -> boto3.session.Session:
    return boto3.session.Session()


@functools.cache
def client(service: str) -> Any:
    config = _CONFIG.merge(_SERVICE_CONFIG[service]) if service in _SERVICE_CONFIG else _CONFIG
    return _session().client(service, config=config)  # type: ignore[call-overload]


@functools.cache
def s3_presigner() -> S3Client:
    """The S3 client that makes presigned URLs, the ones clients send bytes to.

    In AWS it is `s3()`. The local cloud sets S3_PUBLIC_ENDPOINT_URL to its own S3 endpoint, which checks
    signatures as S3 does before handing the bytes to moto (moto checks none): presigned URLs point there.
    """
    public = os.environ.get("S3_PUBLIC_ENDPOINT_URL")
    if not public:
        return s3()
    config = _CONFIG.merge(_SERVICE_CONFIG["s3"]).merge(Config(s3={"addressing_style": "path"}))
    return _session().client("s3", endpoint_url=public, config=config)


def dynamodb() -> DynamoDBClient:
    return client("dynamodb")  # type: ignore[no-any-return]


def s3() -> S3Client:
    return client("s3")  # type: ignore[no-any-return]


def events() -> EventBridgeClient:
    return client("events")  # type: ignore[no-any-return]


def secrets() -> SecretsManagerClient:
    return client("secretsmanager")  # type: ignore[no-any-return]


def stepfunctions() -> SFNClient:
    return client("stepfunctions")  # type: ignore[no-any-return]


def apigateway() -> Any:
    return client("apigateway")


def reset_clients() -> None:
    """Forget cached clients (tests that switch endpoints or mock_aws contexts call this)."""
    client.cache_clear()
    s3_presigner.cache_clear()
    _session.cache_clear()
