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


def failing_registration_step(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The real registration step, except that it fails on the step named in the email (`+fail-<step>`).

    Swapped in for the real handler by the test topology, so tests can break any one saga step for one
    registration and watch the compensation, with no test hook in the shipped code.
    """
    from functions.auth import registration, wiring

    pending = wiring.registration_steps().load(
        event["registration"]["user_id"]
    )  # the input holds only the id
    if pending is not None and f"+fail-{event['step']}@" in pending.email:
        raise RuntimeError(f"injected failure in {event['step']}")
    return registration.lambda_handler(event, context)


def failing_delete_step(event: dict[str, Any], context: Any) -> Any:
    """The real delete step, except that it fails while the test has planted a FAIL flag for it, and
    waits (up to 20 s) while the test has planted a HOLD flag for it.

    The flags are items in the records table (pk FAIL or HOLD, sk <step>#<video id>), so a test can make a
    step fail, watch the saga leave the video `deleting` with the reason, lift the flag and retry; or hold
    the saga at a step and look at what the API says meanwhile.
    """
    from functions.videos import deletion

    ddb = boto3.client("dynamodb")

    def planted(kind: str) -> bool:
        key = {"pk": {"S": kind}, "sk": {"S": f"{event['step']}#{event['video']['id']}"}}
        return "Item" in ddb.get_item(TableName=os.environ["RECORDS_TABLE_NAME"], Key=key)

    deadline = time.monotonic() + 20
    while planted("HOLD") and time.monotonic() < deadline:
        time.sleep(0.1)
    if planted("FAIL"):
        raise RuntimeError(f"injected failure in {event['step']}")
    return deletion.lambda_handler(event, context)
