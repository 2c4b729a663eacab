"""The videos table. Items (pk/sk and indexes):

VIDEO#<id>  VIDEO   the record; gsi1 = OWNER#<owner> / <created_at>#<id>       (a user's videos)
                                 gsi2 = PUBLIC / <created_at>#<id>             (public catalogue, sparse)
                                 gsi3 = AWAITING / <upload deadline>#<id>      (pending uploads, sparse)
USAGE#<owner> USAGE  what the owner's videos count against the storage quota: used_bytes =
                     reserved_bytes (uploads awaited) + stored_bytes (originals in). Changed only in the
                     same transaction as the video record whose `charged` changes.
"""

from __future__ import annotations

import base64
import binascii
import json
import random
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import Any

from botocore.exceptions import ClientError

from functions.shared import aws
from functions.shared.dependency import dependency
from functions.shared.dynamo import cancellation_reasons, from_item, key, to_item
from functions.shared.errors import DependencyUnavailableError, MalformedRequestError
from functions.videos.models import Status, VideoRecord, Visibility
from functions.videos.ports import OverQuotaError, Page, Usage, VersionConflictError

MAX_SCAN_PAGES = 20  # a filtered listing reads at most this many pages to fill one page of results
_FOREIGN_CURSOR = "The cursor is not one this API returned for this listing."


def charge_change(before: VideoRecord | None, after: VideoRecord | None) -> Usage:
    """How the owner's usage changes when a record goes from `before` to `after` (None: no record)."""

    def held(video: VideoRecord | None) -> Usage:
        if video is None or video.charged is None:
            return Usage()
        size = video.upload.size_bytes
        return Usage(reserved=size) if video.charged == "reserved" else Usage(stored=size)

    old, new = held(before), held(after)
    return Usage(new.reserved - old.reserved, new.stored - old.stored)


TRANSACT_ATTEMPTS = 5


def _transact(items: list[dict[str, Any]]) -> None:
    """TransactWriteItems, retried while it only lost a race with another transaction on the same items
    (an owner's usage item is shared by all their videos). A failed condition is raised at once."""
    for attempt in range(TRANSACT_ATTEMPTS):
        try:
            with _dependency():
                aws.dynamodb().transact_write_items(TransactItems=items)  # type: ignore[arg-type]
            return
        except ClientError as exc:
            if "TransactionConflict" not in cancellation_reasons(exc) or attempt == TRANSACT_ATTEMPTS - 1:
                raise
            time.sleep(random.uniform(0.01, 0.05) * 2**attempt)  # noqa: S311 - jitter, not a secret


def _is_condition_failure(exc: ClientError, item: int) -> bool:
    if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
        return True
    return cancellation_reasons(exc)[item : item + 1] == ["ConditionalCheckFailed"]


def _dependency() -> AbstractContextManager[None]:
    """A failed condition as it is; any other AWS failure a 503 naming the table."""
    return dependency("The videos table")


def _index_keys(video: VideoRecord) -> dict[str, Any]:
    order = f"{video.created_at}#{video.id}"
    keys: dict[str, Any] = {"gsi1pk": f"OWNER#{video.owner_id}", "gsi1sk": order}
    if video.visibility is Visibility.PUBLIC and video.status is not Status.DELETING:
        keys.update(gsi2pk="PUBLIC", gsi2sk=order)
    if video.status is Status.AWAITING_UPLOAD:
        keys.update(gsi3pk="AWAITING", gsi3sk=f"{video.upload.expires_at:012d}#{video.id}")
    return keys


def encode_cursor(last_key: dict[str, Any] | None) -> str | None:
    return base64.urlsafe_b64encode(json.dumps(last_key).encode()).decode() if last_key else None


def decode_cursor(cursor: str | None, index: str, partition: str) -> dict[str, Any] | None:
    """The start key a cursor names, only if it is one our own query on `index` (partition `partition`)
    could have returned: exactly the table's and the index's keys, all strings, in this partition (not
    another owner's). Anything else is a 400 here, rather than a query DynamoDB refuses (a 503)."""
    if not cursor:
        return None
    try:
        value = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (binascii.Error, ValueError, RecursionError):  # RecursionError: "[[[[..." nested past the limit
        raise MalformedRequestError(_FOREIGN_CURSOR) from None
    names = {"pk", "sk", f"{index}pk", f"{index}sk"}
    if not isinstance(value, dict) or set(value) != names:
        raise MalformedRequestError(_FOREIGN_CURSOR)
    strings = {}
    for name, attribute in value.items():
        if not (isinstance(attribute, dict) and set(attribute) == {"S"} and isinstance(attribute["S"], str)):
            raise MalformedRequestError(_FOREIGN_CURSOR)
        strings[name] = attribute["S"]
    if (
        strings[f"{index}pk"] != partition
        or strings["sk"] != "VIDEO"
        or not strings["pk"].startswith("VIDEO#")
        or not strings[f"{index}sk"].endswith("#" + strings["pk"].removeprefix("VIDEO#"))
    ):
        raise MalformedRequestError(_FOREIGN_CURSOR)
    return value


class VideoRepository:
    def __init__(self, table_name: str) -> None:
        self.table = table_name

    def _item(self, video: VideoRecord) -> dict[str, Any]:
        return to_item(
            {"pk": f"VIDEO#{video.id}", "sk": "VIDEO", **video.model_dump(mode="json"), **_index_keys(video)}
        )

    def _usage_update(self, owner_id: str, change: Usage, at_most: int | None = None) -> dict[str, Any]:
        update: dict[str, Any] = {
            "TableName": self.table,
            "Key": key(f"USAGE#{owner_id}", "USAGE"),
            "UpdateExpression": "ADD used_bytes :u, reserved_bytes :r, stored_bytes :s",
            "ExpressionAttributeValues": {
                ":u": {"N": str(change.used)},
                ":r": {"N": str(change.reserved)},
                ":s": {"N": str(change.stored)},
            },
        }
        if at_most is not None:  # the usage after the change stays within `at_most`
            update["ConditionExpression"] = "attribute_not_exists(used_bytes) OR used_bytes <= :room"
            update["ExpressionAttributeValues"][":room"] = {"N": str(at_most - change.used)}
        return {"Update": update}

    def create(self, video: VideoRecord, quota: int | None = None) -> None:
        """Write a new record. A charged one also reserves its bytes in its owner's usage, in the same
        transaction, only if that keeps the usage within `quota` (else OverQuotaError, nothing written)."""
        put: dict[str, Any] = {
            "TableName": self.table,
            "Item": self._item(video),
            "ConditionExpression": "attribute_not_exists(pk)",
        }
        change = charge_change(None, video)
        if not change.used:
            with _dependency():
                aws.dynamodb().put_item(**put)
            return
        if quota is not None and change.used > quota:
            raise OverQuotaError(video.owner_id)
        try:
            _transact([{"Put": put}, self._usage_update(video.owner_id, change, quota)])
        except ClientError as exc:
            if _is_condition_failure(exc, 1):
                raise OverQuotaError(video.owner_id) from exc
            raise DependencyUnavailableError("The videos table did not answer.") from exc

    def usage(self, owner_id: str) -> Usage:
        with _dependency():
            item = (
                aws.dynamodb()
                .get_item(TableName=self.table, Key=key(f"USAGE#{owner_id}", "USAGE"), ConsistentRead=True)
                .get("Item")
            )
        values = from_item(item) if item else {}
        return Usage(int(values.get("reserved_bytes", 0)), int(values.get("stored_bytes", 0)))

    def get(self, video_id: str) -> VideoRecord | None:
        with _dependency():
            item = (
                aws.dynamodb()
                .get_item(TableName=self.table, Key=key(f"VIDEO#{video_id}", "VIDEO"), ConsistentRead=True)
                .get("Item")
            )
        return VideoRecord.model_validate(from_item(item)) if item else None

    def save(self, video: VideoRecord, expected_version: int, previous: VideoRecord | None = None) -> None:
        """Write `video` only if the stored version is still `expected_version` (it carries the next one).
        With `previous` (the record as read), a change of `charged` moves the owner's usage in the same
        transaction: both happen, or neither."""
        put: dict[str, Any] = {
            "TableName": self.table,
            "Item": self._item(video),
            "ConditionExpression": "version = :v",
            "ExpressionAttributeValues": {":v": {"N": str(expected_version)}},
        }
        change = charge_change(previous, video) if previous is not None else Usage()
        try:
            if change == Usage():
                with _dependency():
                    aws.dynamodb().put_item(**put)
            else:
                _transact([{"Put": put}, self._usage_update(video.owner_id, change)])
        except ClientError as exc:
            if _is_condition_failure(exc, 0):
                raise VersionConflictError(video.id) from exc
            raise DependencyUnavailableError("The videos table did not answer.") from exc

    def delete(self, video: VideoRecord) -> None:
        """Remove the record as read (its version), releasing what it still counts against its owner's
        quota in the same transaction. VersionConflictError if it changed or went meanwhile: the caller
        reads it again (a record already gone has released its bytes)."""
        delete: dict[str, Any] = {
            "TableName": self.table,
            "Key": key(f"VIDEO#{video.id}", "VIDEO"),
            "ConditionExpression": "version = :v",
            "ExpressionAttributeValues": {":v": {"N": str(video.version)}},
        }
        change = charge_change(video, None)
        try:
            if change == Usage():
                with _dependency():
                    aws.dynamodb().delete_item(**delete)
            else:
                _transact([{"Delete": delete}, self._usage_update(video.owner_id, change)])
        except ClientError as exc:
            if _is_condition_failure(exc, 0):
                raise VersionConflictError(video.id) from exc
            raise DependencyUnavailableError("The videos table did not answer.") from exc

    def _query(
        self, index: str, partition: str, value: str, limit: int, cursor: str | None, filters: dict[str, Any]
    ) -> Page:
        expression, names, values = [], {}, {":p": {"S": value}}
        for i, (field, wanted) in enumerate(sorted(filters.items())):
            if wanted is None:
                continue
            names[f"#f{i}"] = field
            values[f":f{i}"] = {"S": str(wanted)}
            expression.append(f"contains(#f{i}, :f{i})" if field == "tags" else f"#f{i} = :f{i}")
        request: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": index,
            "ScanIndexForward": False,
            "KeyConditionExpression": f"{partition} = :p",
            "ExpressionAttributeValues": values,
        }
        if expression:
            request["FilterExpression"] = " AND ".join(expression)
            request["ExpressionAttributeNames"] = names
        start = decode_cursor(cursor, index, value)
        items: list[VideoRecord] = []
        for _ in range(MAX_SCAN_PAGES):  # filters drop items after the read: keep reading to fill the page
            request["Limit"] = limit - len(items) if not expression else max(limit, 50)
            if start:
                request["ExclusiveStartKey"] = start
            with _dependency():
                response = aws.dynamodb().query(**request)
            for raw in response.get("Items", []):
                if len(items) == limit:
                    break
                items.append(VideoRecord.model_validate(from_item(raw)))
                start = {k: raw[k] for k in ("pk", "sk", f"{index}pk", f"{index}sk")}
            else:
                start = response.get("LastEvaluatedKey")
            if len(items) == limit or not start:
                break
        # A page may hold fewer items than asked when filters skipped many; the cursor still goes on.
        return Page(items, encode_cursor(start))

    def list_owned(self, owner_id: str, limit: int, cursor: str | None, filters: dict[str, Any]) -> Page:
        return self._query("gsi1", "gsi1pk", f"OWNER#{owner_id}", limit, cursor, filters)

    def list_public(self, limit: int, cursor: str | None, filters: dict[str, Any]) -> Page:
        return self._query("gsi2", "gsi2pk", "PUBLIC", limit, cursor, filters)

    def overdue_uploads(self, now: int, limit: int = 100) -> list[VideoRecord]:
        with _dependency():
            response = aws.dynamodb().query(
                TableName=self.table,
                IndexName="gsi3",
                Limit=limit,
                KeyConditionExpression="gsi3pk = :p AND gsi3sk < :now",
                ExpressionAttributeValues={":p": {"S": "AWAITING"}, ":now": {"S": f"{now:012d}"}},
            )
        return [VideoRecord.model_validate(from_item(i)) for i in response.get("Items", [])]

    # --- a running encode's reads and writes (functions/transcode/records.py) --------------------------
    # A run may write only while the video is `processing` and its `attempt` is the run's own (a newer
    # claim after a cancel and retry supersedes it). A record without `attempt` predates attempts: its
    # status alone decides, as before.

    def _still_processing(self, attempt: str | None) -> tuple[str, dict[str, Any]]:
        values: dict[str, Any] = {":processing": {"S": Status.PROCESSING.value}}
        condition = "#s = :processing"
        if attempt:
            condition += " AND (attribute_not_exists(attempt) OR attempt = :attempt)"
            values[":attempt"] = {"S": attempt}
        return condition, values

    def processing_state(self, video_id: str) -> tuple[Status, str | None, Visibility | None] | None:
        """One consistent read of what a running encode checks: status, attempt, visibility (None: gone)."""
        with _dependency():
            item = (
                aws.dynamodb()
                .get_item(
                    TableName=self.table,
                    Key=key(f"VIDEO#{video_id}", "VIDEO"),
                    ProjectionExpression="#s, attempt, visibility",
                    ExpressionAttributeNames={"#s": "status"},
                    ConsistentRead=True,
                )
                .get("Item")
            )
        if item is None:
            return None
        values = from_item(item)
        visibility = values.get("visibility")
        return Status(values["status"]), values.get("attempt"), Visibility(visibility) if visibility else None

    def raise_progress(self, video_id: str, percent: int, attempt: str | None) -> bool:
        """Set progress to `percent` if it is higher than stored (never lower: parallel chunks may have
        stored more) and the run may still write. False if refused."""
        condition, values = self._still_processing(attempt)
        try:
            with _dependency():
                aws.dynamodb().update_item(
                    TableName=self.table,
                    Key=key(f"VIDEO#{video_id}", "VIDEO"),
                    UpdateExpression="SET progress = :p",
                    ConditionExpression=f"{condition} AND (attribute_not_exists(progress) OR progress < :p)",
                    ExpressionAttributeNames={"#s": "status"},
                    ExpressionAttributeValues={**values, ":p": {"N": str(percent)}},
                )
        except ClientError as exc:
            if _is_condition_failure(exc, 0):
                return False
            raise
        return True

    def add_progress(self, video_id: str, points: int, ceiling: int, attempt: str | None) -> int | None:
        """Add `points` to progress if the sum stays within `ceiling` (a retried chunk adding its share
        twice stops there) and the run may still write. The new progress, or None if refused."""
        condition, values = self._still_processing(attempt)
        try:
            with _dependency():
                updated = aws.dynamodb().update_item(
                    TableName=self.table,
                    Key=key(f"VIDEO#{video_id}", "VIDEO"),
                    UpdateExpression="ADD progress :d",
                    ConditionExpression=f"{condition} AND (attribute_not_exists(progress) OR progress <= :room)",
                    ExpressionAttributeNames={"#s": "status"},
                    ExpressionAttributeValues={
                        **values,
                        ":d": {"N": str(points)},
                        ":room": {"N": str(ceiling - points)},
                    },
                    ReturnValues="UPDATED_NEW",
                )
        except ClientError as exc:
            if _is_condition_failure(exc, 0):
                return None
            raise
        return int(updated["Attributes"]["progress"]["N"])

    def mark_playable(self, video_id: str, prefix: str, attempt: str | None) -> bool:
        """The run's first segments, growing playlists and master are under `prefix`: the video plays
        while it still encodes (GET /videos/{id}/playback). False if the run may no longer write."""
        condition, values = self._still_processing(attempt)
        try:
            with _dependency():
                aws.dynamodb().update_item(
                    TableName=self.table,
                    Key=key(f"VIDEO#{video_id}", "VIDEO"),
                    # a new version: a whole-record save read before this (a PATCH) must not undo it
                    UpdateExpression="SET playable = :t, playable_prefix = :p ADD version :one",
                    ConditionExpression=condition,
                    ExpressionAttributeNames={"#s": "status"},
                    ExpressionAttributeValues={
                        **values,
                        ":t": {"BOOL": True},
                        ":p": {"S": prefix},
                        ":one": {"N": "1"},
                    },
                )
        except ClientError as exc:
            if _is_condition_failure(exc, 0):
                return False
            raise
        return True


# --- for other domains' readers (the search indexer): the record layout stays here -------------------


def video_from_image(image: dict[str, Any] | None) -> VideoRecord | None:
    """The video record in a stream image of the videos table (typed attribute values), or None when the
    item is not a video record (a usage counter) or there is no image."""
    if not image:
        return None
    values = from_item(image)
    if values.get("sk") != "VIDEO" or not str(values.get("pk", "")).startswith("VIDEO#"):
        return None
    return VideoRecord.model_validate(values)


def scan_videos(table_name: str, page_size: int = 500) -> Iterator[VideoRecord]:
    """Every video record of the table, page by page (a rebuild's full read; never on a request path)."""
    request: dict[str, Any] = {
        "TableName": table_name,
        "FilterExpression": "sk = :video",
        "ExpressionAttributeValues": {":video": {"S": "VIDEO"}},
        "Limit": page_size,
    }
    while True:
        with _dependency():
            response = aws.dynamodb().scan(**request)
        for item in response.get("Items", []):
            video = video_from_image(item)
            if video is not None:
                yield video
        if "LastEvaluatedKey" not in response:
            return
        request["ExclusiveStartKey"] = response["LastEvaluatedKey"]
