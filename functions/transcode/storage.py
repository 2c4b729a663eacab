"""The media store on S3: the original from the uploads bucket, outputs to the media bucket."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from botocore.exceptions import ClientError

from functions.shared import aws
from functions.transcode.outputs import upload_files, upload_tree
from functions.transcode.ports import MissingObjectError, RemoteSource

DELETE_BATCH = 1000  # DeleteObjects takes 1,000 keys at a time
_MISSING = {"404", "NoSuchKey", "NotFound"}
SOURCE_URL_TTL_S = 3600  # the whole-file encode's Lambda timeout is 15 minutes


class S3MediaStore:
    """`MediaStore` on the uploads bucket (read) and the media bucket (write)."""

    def __init__(self, uploads_bucket: str, media_bucket: str) -> None:
        self.uploads = uploads_bucket
        self.media = media_bucket

    def source(self, key: str) -> RemoteSource:
        try:
            size = int(aws.s3().head_object(Bucket=self.uploads, Key=key)["ContentLength"])
        except ClientError as exc:
            if exc.response["Error"]["Code"] in _MISSING:
                raise MissingObjectError(f"the upload {key} is not there") from exc
            raise
        url = aws.s3().generate_presigned_url(
            "get_object", Params={"Bucket": self.uploads, "Key": key}, ExpiresIn=SOURCE_URL_TTL_S
        )
        return RemoteSource(str(url), size)

    def put_files(self, files: list[tuple[Path, str]], live: bool = False) -> None:
        upload_files(aws.s3(), files, self.media, live)

    def put_tree(self, local_root: Path, prefix: str) -> int:
        return upload_tree(aws.s3(), local_root, self.media, prefix)

    def sizes(self, prefix: str) -> dict[str, int]:
        pages = aws.s3().get_paginator("list_objects_v2").paginate(Bucket=self.media, Prefix=prefix)
        return {o["Key"]: o["Size"] for page in pages for o in page.get("Contents", [])}

    def read_text(self, key: str) -> str:
        try:
            body = aws.s3().get_object(Bucket=self.media, Key=key)["Body"]
        except ClientError as exc:
            if exc.response["Error"]["Code"] in _MISSING:
                raise MissingObjectError(f"{key} is not in the media bucket") from exc
            raise
        return str(body.read().decode())

    def copy(self, moves: list[tuple[str, str]]) -> None:
        s3 = aws.s3()

        def copy_one(move: tuple[str, str]) -> None:
            # CopyObject keeps the source's Content-Type and Cache-Control (MetadataDirective COPY)
            s3.copy_object(Bucket=self.media, Key=move[1], CopySource={"Bucket": self.media, "Key": move[0]})

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(copy_one, moves))

    def delete(self, keys: list[str]) -> None:
        s3 = aws.s3()
        for i in range(0, len(keys), DELETE_BATCH):
            s3.delete_objects(
                Bucket=self.media, Delete={"Objects": [{"Key": k} for k in keys[i : i + DELETE_BATCH]]}
            )
