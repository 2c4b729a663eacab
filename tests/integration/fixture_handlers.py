"""Handlers that exist only to exercise the local cloud's event sources, authorizer and runtime.

They are real Lambda handlers run in real sandboxes; `recorder` writes what it receives to a table so
tests can see each delivery through the AWS API.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from typing import Any

import boto3


def echo(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {
        "statusCode": 200,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(
            {
                "path": event["path"],
                "params": event["pathParameters"],
                "authorizer": event["requestContext"].get("authorizer"),
                "remaining_ms": context.get_remaining_time_in_millis(),
                "function_name": context.function_name,
                "records_table": os.environ.get("RECORDS_TABLE_NAME"),
            }
        ),
    }


def authorizer(event: dict[str, Any], context: Any) -> dict[str, Any]:
    token = event["headers"].get("Authorization") or event["headers"].get("authorization")
    if token not in {"Bearer good", "Bearer deny"}:
        raise Exception("Unauthorized")
    effect = "Allow" if token == "Bearer good" else "Deny"
    return {
        "principalId": "user-42",
        "context": {"scopes": "videos:read"},
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": event["methodArn"]}],
        },
    }


def _record(kind: str, payload: Any) -> None:
    boto3.client("dynamodb").put_item(
        TableName=os.environ["RECORDS_TABLE_NAME"],
        Item={
            "pk": {"S": kind},
            "sk": {"S": f"{time.time_ns()}-{uuid.uuid4().hex[:6]}"},
            "payload": {"S": json.dumps(payload, default=str)},
        },
    )


def recorder(event: dict[str, Any], context: Any) -> dict[str, Any] | None:
    records = event.get("Records")
    if records is None:  # an EventBridge event
        _record("eventbridge", event)
        return None
    failures = []
    for record in records:
        if record.get("eventSource") == "aws:sqs":
            if "fail" in record["body"]:
                failures.append({"itemIdentifier": record["messageId"]})
                continue
            _record("sqs", record["body"])
        else:
            _record("stream", {"eventName": record["eventName"], "keys": record["dynamodb"]["Keys"]})
    return {"batchItemFailures": failures}


class StepFailedError(Exception):
    pass


def stepper(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if event.get("explode"):
        raise StepFailedError("asked to fail")
    return {**event, "steps": [*event.get("steps", []), context.function_name]}


def sleepy(event: dict[str, Any], context: Any) -> dict[str, Any]:
    time.sleep(float(event.get("seconds", 0)))
    return {"slept": event.get("seconds", 0)}


def crash(event: dict[str, Any], context: Any) -> None:
    os._exit(3)
