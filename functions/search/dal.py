"""The search table: search jobs. Boto3 and key layout only.

JOB#<id>  JOB   the job; gsi1 = OWNER#<owner> / <created_at>#<id> (an owner's jobs, newest first);
                expires_at = the table's TTL attribute (results are kept for a day after the last change)
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from functions.search.models import JobRecord, JobStatus
from functions.shared import aws
from functions.shared.dynamo import from_item, key, to_item
from functions.shared.errors import DependencyUnavailableError, MalformedRequestError

_FOREIGN_CURSOR = "The cursor is not one this API returned for this listing."
_CURSOR_KEYS = {"pk", "sk", "gsi1pk", "gsi1sk"}


@contextmanager
def _dependency() -> Iterator[None]:
    try:
        yield
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            raise
        raise DependencyUnavailableError(
            f"The search table did not answer ({exc.response['Error']['Code']})."
        ) from exc
    except BotoCoreError as exc:
        raise DependencyUnavailableError("The search table did not answer.") from exc


def _encode(last_key: dict[str, Any] | None) -> str | None:
    return base64.urlsafe_b64encode(json.dumps(last_key).encode()).decode() if last_key else None


def _decode(cursor: str | None, owner_partition: str) -> dict[str, Any] | None:
    """The start key of a cursor this listing made for this owner; anything else is a 400."""
    if not cursor:
        return None
    try:
        value = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (binascii.Error, ValueError, RecursionError):  # RecursionError: "[[[[..." nested past the limit
        raise MalformedRequestError(_FOREIGN_CURSOR) from None
    if not isinstance(value, dict) or set(value) != _CURSOR_KEYS:
        raise MalformedRequestError(_FOREIGN_CURSOR)
    if not all(isinstance(v, dict) and set(v) == {"S"} and isinstance(v["S"], str) for v in value.values()):
        raise MalformedRequestError(_FOREIGN_CURSOR)
    if value["gsi1pk"]["S"] != owner_partition or value["sk"]["S"] != "JOB":
        raise MalformedRequestError(_FOREIGN_CURSOR)
    return value


class DynamoJobStore:
    def __init__(self, table: str) -> None:
        self.table = table

    def _item(self, job: JobRecord) -> dict[str, Any]:
        return to_item(
            {
                "pk": f"JOB#{job.job_id}",
                "sk": "JOB",
                "gsi1pk": f"OWNER#{job.owner_id}",
                "gsi1sk": f"{job.created_at}#{job.job_id}",
                **job.model_dump(mode="json"),
            }
        )

    def create(self, job: JobRecord) -> None:
        with _dependency():
            aws.dynamodb().put_item(
                TableName=self.table, Item=self._item(job), ConditionExpression="attribute_not_exists(pk)"
            )

    def get(self, job_id: str) -> JobRecord | None:
        with _dependency():
            item = (
                aws.dynamodb()
                .get_item(TableName=self.table, Key=key(f"JOB#{job_id}", "JOB"), ConsistentRead=True)
                .get("Item")
            )
        return JobRecord.model_validate(from_item(item)) if item else None

    def replace(self, job: JobRecord, expected: frozenset[JobStatus], attempt: int) -> bool:
        names = {f":s{i}": {"S": status.value} for i, status in enumerate(sorted(expected))}
        try:
            with _dependency():
                aws.dynamodb().put_item(
                    TableName=self.table,
                    Item=self._item(job),
                    ConditionExpression=(
                        f"attribute_exists(pk) AND #status IN ({', '.join(names)}) AND attempts = :attempt"
                    ),
                    ExpressionAttributeNames={"#status": "status"},
                    ExpressionAttributeValues={**names, ":attempt": {"N": str(attempt)}},
                )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def list_owned(self, owner_id: str, limit: int, cursor: str | None) -> tuple[list[JobRecord], str | None]:
        partition = f"OWNER#{owner_id}"
        request: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": "gsi1",
            "KeyConditionExpression": "gsi1pk = :p",
            "ExpressionAttributeValues": {":p": {"S": partition}},
            "ScanIndexForward": False,
            "Limit": limit,
        }
        start = _decode(cursor, partition)
        if start:
            request["ExclusiveStartKey"] = start
        with _dependency():
            response = aws.dynamodb().query(**request)
        items = [JobRecord.model_validate(from_item(i)) for i in response.get("Items", [])]
        return items, _encode(response.get("LastEvaluatedKey"))


class SqsJobQueue:
    def __init__(self, queue_url: str) -> None:
        self.queue_url = queue_url

    def send(self, job_id: str) -> None:
        try:
            aws.client("sqs").send_message(
                QueueUrl=self.queue_url, MessageBody=json.dumps({"job_id": job_id})
            )
        except (ClientError, BotoCoreError) as exc:
            raise DependencyUnavailableError("Could not queue the search job; try again.") from exc
