"""The index's files on S3 (`IndexFiles`): segment files under `index/files/`, and the pointer
`index/current.json`, the manifest of the current version. Boto3 and key layout only."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError

from functions.search.models import Manifest
from functions.shared import aws
from functions.shared.errors import DependencyUnavailableError

POINTER = "index/current.json"
FILES = "index/files/"


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
