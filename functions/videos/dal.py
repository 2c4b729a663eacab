"""The videos table. Items (pk/sk and indexes):

VIDEO#<id>  VIDEO   the record; gsi1 = OWNER#<owner> / <created_at>#<id>       (a user's videos)
                                 gsi2 = PUBLIC / <created_at>#<id>             (public catalogue, sparse)
                                 gsi3 = AWAITING / <upload deadline>#<id>      (pending uploads, sparse)
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from functions.shared import aws
from functions.shared.dynamo import from_item, key, to_item
from functions.shared.errors import DependencyUnavailableError, MalformedRequestError
from functions.videos.models import Status, VideoRecord, Visibility

MAX_SCAN_PAGES = 20  # a filtered listing reads at most this many pages to fill one page of results
_FOREIGN_CURSOR = "The cursor is not one this API returned for this listing."


class VersionConflictError(Exception):
    """The record changed since it was read (optimistic locking)."""


@contextmanager
def _dependency() -> Iterator[None]:
    try:
        yield
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            raise
        raise DependencyUnavailableError(
            f"The videos table did not answer ({exc.response['Error']['Code']})."
        ) from exc
    except BotoCoreError as exc:
        raise DependencyUnavailableError("The videos table did not answer.") from exc


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
    except (binascii.Error, ValueError):
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


@dataclass(frozen=True)
class Page:
    items: list[VideoRecord]
    next_cursor: str | None


class VideoRepository:
    def __init__(self, table_name: str) -> None:
        self.table = table_name

    def _item(self, video: VideoRecord) -> dict[str, Any]:
        return to_item(
            {"pk": f"VIDEO#{video.id}", "sk": "VIDEO", **video.model_dump(mode="json"), **_index_keys(video)}
        )

    def create(self, video: VideoRecord) -> None:
        with _dependency():
            aws.dynamodb().put_item(
                TableName=self.table, Item=self._item(video), ConditionExpression="attribute_not_exists(pk)"
            )

    def get(self, video_id: str) -> VideoRecord | None:
        with _dependency():
            item = (
                aws.dynamodb()
                .get_item(TableName=self.table, Key=key(f"VIDEO#{video_id}", "VIDEO"), ConsistentRead=True)
                .get("Item")
            )
        return VideoRecord.model_validate(from_item(item)) if item else None

    def save(self, video: VideoRecord, expected_version: int) -> None:
        """Write `video` only if the stored version is still `expected_version` (it carries the next one)."""
        try:
            with _dependency():
                aws.dynamodb().put_item(
                    TableName=self.table,
                    Item=self._item(video),
                    ConditionExpression="version = :v",
                    ExpressionAttributeValues={":v": {"N": str(expected_version)}},
                )
        except ClientError as exc:
            raise VersionConflictError(video.id) from exc

    def delete(self, video_id: str) -> None:
        with _dependency():
            aws.dynamodb().delete_item(TableName=self.table, Key=key(f"VIDEO#{video_id}", "VIDEO"))

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
