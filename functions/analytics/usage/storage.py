"""The delivered access-log objects on S3 (written by Firehose in AWS, by the local emitter locally)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from functions.shared import aws
from functions.shared.dependency import dependency, error_code
from functions.shared.errors import NotFoundError


class S3LogObjects:
    """`LogObjects` on S3."""

    def __init__(self, client: Callable[[], Any] = aws.s3) -> None:
        self._client = client

    def read(self, bucket: str, key: str) -> bytes:
        with dependency("the usage log bucket"):
            try:
                body: bytes = self._client().get_object(Bucket=bucket, Key=key)["Body"].read()
            except ClientError as exc:
                if error_code(exc) in {"NoSuchKey", "404"}:
                    raise NotFoundError(f"No access-log object {key}.") from exc
                raise
        return body
