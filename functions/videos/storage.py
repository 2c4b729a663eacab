"""Object storage for videos (the `UploadStorage` and `MediaStore` ports): presigned uploads (single PUT
and multipart), copies between media prefixes, and paged deletion. boto3 and S3's answers only."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from functions.shared import aws
from functions.shared.errors import ConflictError, DependencyUnavailableError
from functions.videos.ports import ObjectInfo, StoredPart


def _fail(what: str, exc: Exception) -> DependencyUnavailableError:
    return DependencyUnavailableError(f"Object storage did not answer ({what}).")


class UploadStore:
    """The uploads bucket. Clients send bytes straight to S3 with the URLs made here, never through us."""

    def __init__(self, bucket: str) -> None:
        self.bucket = bucket

    def presign_put(
        self, key: str, content_type: str, size_bytes: int, expires_s: int
    ) -> tuple[str, dict[str, str]]:
        # Content-Type and Content-Length are signed headers (the client is SigV4, functions/shared/aws.py):
        # S3 refuses a request that sends other values.
        url: str = aws.s3_presigner().generate_presigned_url(
            "put_object",
            ExpiresIn=expires_s,
            Params={
                "Bucket": self.bucket,
                "Key": key,
                "ContentType": content_type,
                "ContentLength": size_bytes,
            },
        )
        return url, {"Content-Type": content_type, "Content-Length": str(size_bytes)}

    def start_multipart(self, key: str, content_type: str) -> str:
        try:
            upload_id: str = aws.s3().create_multipart_upload(
                Bucket=self.bucket, Key=key, ContentType=content_type
            )["UploadId"]
        except ClientError as exc:
            raise _fail("create multipart upload", exc) from exc
        return upload_id

    def presign_part(
        self, key: str, upload_id: str, part_number: int, size_bytes: int, expires_s: int
    ) -> str:
        """A URL for one part, bound to its exact length (Content-Length is signed)."""
        url: str = aws.s3_presigner().generate_presigned_url(
            "upload_part",
            ExpiresIn=expires_s,
            Params={
                "Bucket": self.bucket,
                "Key": key,
                "UploadId": upload_id,
                "PartNumber": part_number,
                "ContentLength": size_bytes,
            },
        )
        return url

    def parts(self, key: str, upload_id: str) -> list[StoredPart]:
        found: list[StoredPart] = []
        try:
            for page in (
                aws.s3().get_paginator("list_parts").paginate(Bucket=self.bucket, Key=key, UploadId=upload_id)
            ):
                found += [StoredPart(p["PartNumber"], p["ETag"], p["Size"]) for p in page.get("Parts", [])]
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "NoSuchUpload":
                raise ConflictError("This upload is no longer open (completed, aborted or expired).") from exc
            raise _fail("list parts", exc) from exc
        return found

    def complete(self, key: str, upload_id: str, parts: list[tuple[int, str]]) -> None:
        try:
            aws.s3().complete_multipart_upload(
                Bucket=self.bucket,
                Key=key,
                UploadId=upload_id,
                MultipartUpload={"Parts": [{"PartNumber": n, "ETag": e} for n, e in sorted(parts)]},
            )
        except ClientError as exc:
            code = exc.response["Error"]["Code"]
            if code in {"InvalidPart", "InvalidPartOrder", "EntityTooSmall", "NoSuchUpload"}:
                raise ConflictError(
                    f"S3 refused to assemble the upload: {exc.response['Error']['Message']}"
                ) from exc
            raise _fail("complete multipart upload", exc) from exc

    def abort(self, key: str, upload_id: str) -> bool:
        """Abort the upload and drop its parts. False if S3 no longer has it open (completed, aborted or
        expired): for a caller that only wants it gone, that is as good."""
        try:
            aws.s3().abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "NoSuchUpload":
                return False
            raise _fail("abort multipart upload", exc) from exc
        return True

    def delete(self, key: str) -> None:
        try:
            aws.s3().delete_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            raise _fail("delete object", exc) from exc

    def head(self, key: str) -> ObjectInfo | None:
        try:
            obj = aws.s3().head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if exc.response["Error"]["Code"] in {"404", "NoSuchKey", "NotFound"}:
                return None
            raise _fail("head object", exc) from exc
        return ObjectInfo(int(obj["ContentLength"]), obj.get("ContentType", ""), obj["ETag"])

    def delete_prefix(self, prefix: str) -> int:
        return delete_prefix(self.bucket, prefix)


class MediaStore:
    """The media bucket: HLS output under `hls/<id>/` or `public/hls/<id>/`."""

    def __init__(self, bucket: str) -> None:
        self.bucket = bucket

    def copy_prefix(self, source: str, target: str) -> int:
        s3: Any = aws.s3()
        copied = 0
        try:
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=source):
                for obj in page.get("Contents", []):
                    s3.copy_object(
                        Bucket=self.bucket,
                        Key=target + obj["Key"][len(source) :],
                        MetadataDirective="COPY",
                        CopySource={"Bucket": self.bucket, "Key": obj["Key"]},
                    )
                    copied += 1
        except ClientError as exc:
            raise DependencyUnavailableError(f"Could not copy media from {source} to {target}.") from exc
        return copied

    def delete_prefix(self, prefix: str) -> int:
        return delete_prefix(self.bucket, prefix)


def delete_prefix(bucket: str, prefix: str) -> int:
    """Delete every object under `prefix`, a page of up to 1,000 at a time (any number of objects)."""
    s3: Any = aws.s3()
    deleted = 0
    try:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            if not keys:
                continue
            result = s3.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
            if result.get("Errors"):
                raise DependencyUnavailableError(
                    f"Could not delete {len(result['Errors'])} objects under {prefix}."
                )
            deleted += len(keys)
    except ClientError as exc:
        raise _fail("delete objects", exc) from exc
    return deleted
