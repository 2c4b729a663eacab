"""The index's files on S3 (`IndexFiles`): segment files under `index/files/`, and the pointer
`index/current.json`, the manifest of the current version. Boto3 and key layout only."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from functions.search.models import Manifest
from functions.shared import aws
from functions.shared.errors import DependencyUnavailableError

if TYPE_CHECKING:
    from mypy_boto3_s3.type_defs import ObjectIdentifierTypeDef

POINTER = "index/current.json"
FILES = "index/files/"
DELETE_BATCH = 1000  # S3's DeleteObjects limit


@contextmanager
def _dependency(what: str) -> Iterator[None]:
    try:
        yield
    except (ClientError, BotoCoreError) as exc:
        raise DependencyUnavailableError(f"The search index store did not answer ({what}).") from exc


class S3IndexFiles:
    def __init__(self, bucket: str) -> None:
        self.bucket = bucket

    def manifest(self) -> Manifest | None:
        try:
            body = aws.s3().get_object(Bucket=self.bucket, Key=POINTER)["Body"].read()
        except ClientError as exc:
            if exc.response["Error"]["Code"] in {"NoSuchKey", "404"}:
                return None
            raise DependencyUnavailableError("The search index store did not answer (pointer).") from exc
        except BotoCoreError as exc:
            raise DependencyUnavailableError("The search index store did not answer (pointer).") from exc
        return Manifest.model_validate_json(body)

    def download(self, name: str, target: Path) -> None:
        partial = target.with_name(target.name + ".part")
        with _dependency(name):
            aws.s3().download_file(self.bucket, FILES + name, str(partial))
        partial.replace(target)  # a file is there whole or not at all

    def upload(self, name: str, source: Path) -> None:
        with _dependency(name):
            aws.s3().upload_file(str(source), self.bucket, FILES + name)

    def publish(self, manifest: Manifest) -> None:
        with _dependency("pointer"):
            aws.s3().put_object(
                Bucket=self.bucket,
                Key=POINTER,
                Body=manifest.model_dump_json().encode(),
                ContentType="application/json",
            )

    def stored(self) -> list[tuple[str, float]]:
        found = []
        with _dependency("listing"):
            for page in aws.s3().get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=FILES):
                for item in page.get("Contents", []):
                    found.append((item["Key"].removeprefix(FILES), item["LastModified"].timestamp()))
        return found

    def delete(self, names: Sequence[str]) -> None:
        with _dependency("delete"):
            for start in range(0, len(names), DELETE_BATCH):
                keys: list[ObjectIdentifierTypeDef] = [
                    {"Key": FILES + name} for name in names[start : start + DELETE_BATCH]
                ]
                aws.s3().delete_objects(Bucket=self.bucket, Delete={"Objects": keys, "Quiet": True})
