"""Reachability probes, one per resource kind: a describe-level call that proves the resource answers.

The platform function is public and holds only `Access.DESCRIBE` grants (DescribeTable,
GetBucketLocation, GetQueueAttributes): a probe must never need to read an item, object or message.
"""

from __future__ import annotations

import functools
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from functions.platform.health import Probe
from functions.shared.config import ResourceKind, ResourceRef

# No retries and short timeouts: a health check reports a slow dependency, it does not wait it out.
_PROBE_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 1},
    connect_timeout=1,
    read_timeout=2,
    max_pool_connections=16,
)


@functools.cache
def _client(service: str) -> Any:
    return boto3.session.Session().client(service, config=_PROBE_CONFIG)  # type: ignore[call-overload]


class ProbeFailedError(Exception):
    pass


def _describe(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        return f"{err.get('Code', 'Error')}: {err.get('Message', '')}".strip()
    return type(exc).__name__ + (f": {exc}" if str(exc) else "")


def _table(ref: ResourceRef) -> None:
    status = _client("dynamodb").describe_table(TableName=ref.address)["Table"]["TableStatus"]
    if status not in {"ACTIVE", "UPDATING"}:
        raise ProbeFailedError(f"table is {status}")


def _bucket(ref: ResourceRef) -> None:
    # Not HeadBucket: it needs s3:ListBucket, which would let this function list every key.
    _client("s3").get_bucket_location(Bucket=ref.address)


def _queue(ref: ResourceRef) -> None:
    _client("sqs").get_queue_attributes(QueueUrl=ref.address, AttributeNames=["QueueArn"])


_PROBES = {ResourceKind.TABLE: _table, ResourceKind.BUCKET: _bucket, ResourceKind.QUEUE: _queue}


def probe_for(ref: ResourceRef) -> Probe:
    probe = _PROBES[ref.kind]

    def run(r: ResourceRef) -> None:
        try:
            probe(r)
        except (ClientError, BotoCoreError) as exc:
            raise ProbeFailedError(_describe(exc)) from exc

    return run
