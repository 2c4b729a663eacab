"""Progress of a running encode: stored on the video at most every few seconds, announced as
video.progress, and the place the encoder learns it was cancelled."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from functions.shared import aws
from functions.shared.dynamo import key

STORE_EVERY_S = 3.0
CHECK_EVERY_S = 2.0


@dataclass
class ProgressReporter:
    table: str
    video_id: str
    publish: Callable[[str, dict[str, Any]], None]
    clock: Callable[[], float] = time.monotonic
    _last_store: float = field(default=-1e9)
    _last_percent: int = field(default=-1)
    stopped: bool = False

    def report(self, fraction: float) -> None:
        percent = max(0, min(99, int(fraction * 100)))  # 100 is for ready, which the record step sets
        now = self.clock()
        if percent == self._last_percent or now - self._last_store < STORE_EVERY_S:
            return
        self._last_store, self._last_percent = now, percent
        try:
            aws.dynamodb().update_item(
                TableName=self.table,
                Key=key(f"VIDEO#{self.video_id}", "VIDEO"),
                UpdateExpression="SET progress = :p",
                ConditionExpression="#s = :processing",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":p": {"N": str(percent)}, ":processing": {"S": "processing"}},
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                self.stopped = True  # no longer processing: cancelled (or deleted)
                return
            raise
        self.publish("video.progress", {"video_id": self.video_id, "progress": percent})

    def should_stop(self) -> bool:
        if self.stopped:
            return True
        item = (
            aws.dynamodb()
            .get_item(
                TableName=self.table,
                Key=key(f"VIDEO#{self.video_id}", "VIDEO"),
                ProjectionExpression="#s",
                ExpressionAttributeNames={"#s": "status"},
                ConsistentRead=True,
            )
            .get("Item")
        )
        self.stopped = item is None or item["status"]["S"] != "processing"
        return self.stopped
