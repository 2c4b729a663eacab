"""Event source mappings over moto: what the Lambda service does in AWS between a source and a function.

- SQS queues -> batch events with ReportBatchItemFailures: only failed messages stay on the queue, and
  the queue's redrive policy moves a message to its DLQ after `maxReceiveCount` tries.
- DynamoDB streams -> stream events, from LATEST, with partial failures retried up to the trigger's
  `retry_attempts` before the batch is skipped (and logged), as Lambda does without bisecting.
- EventBridge rules -> the local cloud points each rule at a queue of its own; a poller delivers each
  event to the rule's function (async invoke: two retries) or starts the rule's state machine.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
import uuid
from typing import Any

from botocore.exceptions import ClientError

from infra.local.names import ACCOUNT, REGION, LocalNames
from infra.local.runtime import InvocationError, LambdaRuntime
from infra.model import EventRule, QueueTrigger, ScheduleTrigger, StreamTrigger, Topology

log = logging.getLogger("skyreel.local.sources")

_IDLE_WAIT_S = 1  # SQS long-poll wait: an idle poller costs one request a second


class _Poller(threading.Thread):
    def __init__(self, name: str, stop: threading.Event) -> None:
        super().__init__(name=name, daemon=True)
        self.stop_event = stop

    def run(self) -> None:
        while not self.stop_event.is_set():
            try:
                self.poll_once()
            except Exception:  # a broken poll must not kill the source; back off and go on
                if self.stop_event.is_set():
                    return
                log.exception("%s: poll failed", self.name)
                self.stop_event.wait(1.0)

    def poll_once(self) -> None:
        raise NotImplementedError


def sqs_record(message: dict[str, Any], queue_arn: str) -> dict[str, Any]:
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes", {}),
        "messageAttributes": message.get("MessageAttributes", {}),
        "md5OfBody": message.get("MD5OfBody") or hashlib.md5(message["Body"].encode()).hexdigest(),  # noqa: S324
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": REGION,
    }


class QueuePoller(_Poller):
    def __init__(
        self,
        trigger: QueueTrigger,
        names: LocalNames,
        sqs: Any,
        runtime: LambdaRuntime,
        stop: threading.Event,
    ) -> None:
        super().__init__(f"sqs-{trigger.queue}->{trigger.function}", stop)
        self.trigger = trigger
        self.sqs = sqs
        self.runtime = runtime
        self.queue_url = names.queue_url(trigger.queue)
        self.queue_arn = names.queue_arn(trigger.queue)

    def poll_once(self) -> None:
        messages = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=min(10, self.trigger.batch_size),
            WaitTimeSeconds=_IDLE_WAIT_S,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return
        event = {"Records": [sqs_record(m, self.queue_arn) for m in messages]}
        try:
            result = self.runtime.invoke(self.trigger.function, event).result
        except InvocationError as exc:
            log.warning(
                "%s: batch of %d failed (%s); messages return after the visibility timeout",
                self.name,
                len(messages),
                exc,
            )
            return
        failed = (
            {f.get("itemIdentifier") for f in (result or {}).get("batchItemFailures", [])}
            if isinstance(result, dict)
            else set()
        )
        done = [m for m in messages if m["MessageId"] not in failed]
        if done:
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
            )
        if failed:
            # Make failed messages visible again soon (Lambda leaves them for the visibility timeout;
            # locally that would stall a developer's retry loop for minutes).
            for m in messages:
                if m["MessageId"] in failed:
                    self.sqs.change_message_visibility(
                        QueueUrl=self.queue_url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=1
                    )


class StreamPoller(_Poller):
    def __init__(
        self,
        trigger: StreamTrigger,
        names: LocalNames,
        ddb: Any,
        streams: Any,
        runtime: LambdaRuntime,
        stop: threading.Event,
    ) -> None:
        super().__init__(f"stream-{trigger.table}->{trigger.function}", stop)
        self.trigger = trigger
        self.streams = streams
        self.runtime = runtime
        self.stream_arn: str = ddb.describe_table(TableName=names.table(trigger.table))["Table"][
            "LatestStreamArn"
        ]
        self.iterators: dict[str, str] = {}
        for shard in streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]["Shards"]:
            self.iterators[shard["ShardId"]] = streams.get_shard_iterator(
                StreamArn=self.stream_arn, ShardId=shard["ShardId"], ShardIteratorType="LATEST"
            )["ShardIterator"]

    def poll_once(self) -> None:
        busy = False
        for shard_id, iterator in list(self.iterators.items()):
            response = self.streams.get_records(ShardIterator=iterator, Limit=self.trigger.batch_size)
            records = response.get("Records", [])
            if records:
                busy = True
                self._deliver(records)
            self.iterators[shard_id] = response.get("NextShardIterator") or iterator
        if not busy:
            self.stop_event.wait(0.2)

    def _deliver(self, records: list[dict[str, Any]]) -> None:
        for record in records:
            record["eventSourceARN"] = self.stream_arn
            created = record["dynamodb"].get("ApproximateCreationDateTime")
            if created is not None and hasattr(created, "timestamp"):  # boto3 parsed it; Lambda sends epoch s
                record["dynamodb"]["ApproximateCreationDateTime"] = int(created.timestamp())
        pending = records
        for attempt in range(self.trigger.retry_attempts + 1):
            try:
                result = self.runtime.invoke(self.trigger.function, {"Records": pending}).result
            except InvocationError as exc:
                log.warning("%s: attempt %d failed: %s", self.name, attempt + 1, exc)
                continue
            failures = result.get("batchItemFailures", []) if isinstance(result, dict) else []
            if not failures:
                return
            # Retry from the first failed record, as Lambda's checkpointing does.
            first = min(int(f["itemIdentifier"]) for f in failures)
            pending = [r for r in pending if int(r["dynamodb"]["SequenceNumber"]) >= first]
        log.error(
            "%s: skipping %d records after %d attempts",
            self.name,
            len(pending),
            self.trigger.retry_attempts + 1,
        )


class RulePoller(_Poller):
    def __init__(
        self,
        rule: EventRule,
        names: LocalNames,
        sqs: Any,
        sfn: Any,
        runtime: LambdaRuntime,
        stop: threading.Event,
    ) -> None:
        super().__init__(f"rule-{rule.id}", stop)
        self.rule = rule
        self.sqs = sqs
        self.sfn = sfn
        self.runtime = runtime
        self.queue_url = names.queue_url(f"rule_{rule.id}")
        self.state_machine_arn = names.state_machine_arn(rule.state_machine) if rule.state_machine else None

    def poll_once(self) -> None:
        messages = self.sqs.receive_message(
            QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=_IDLE_WAIT_S
        ).get("Messages", [])
        for message in messages:
            event = json.loads(message["Body"])
            if self._deliver(event):
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])

    def _deliver(self, event: dict[str, Any]) -> bool:
        if self.state_machine_arn:
            try:
                self.sfn.start_execution(
                    stateMachineArn=self.state_machine_arn,
                    name=f"{self.rule.id}-{event.get('id', time.time_ns())}"[:80],
                    input=json.dumps(event),
                )
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "ExecutionAlreadyExists":  # a redelivery
                    raise
            return True
        for attempt in range(3):  # EventBridge -> Lambda is an async invoke: the call plus two retries
            try:
                self.runtime.invoke(self.rule.function or "", event)
                return True
            except InvocationError as exc:
                log.warning("%s: delivery attempt %d failed: %s", self.name, attempt + 1, exc)
        log.error("%s: dropping event %s after 3 attempts", self.name, event.get("id"))
        return True


class ScheduleTimer(_Poller):
    """An EventBridge schedule: invoke the function every `every_minutes`, with a scheduled-event payload.

    `SKYREEL_LOCAL_SCHEDULE_SCALE` shrinks the period for tests and demos (0.01 turns 5 minutes into 3 s).
    """

    def __init__(self, schedule: ScheduleTrigger, runtime: LambdaRuntime, stop: threading.Event) -> None:
        super().__init__(f"schedule-{schedule.id}", stop)
        self.schedule = schedule
        self.runtime = runtime
        scale = float(os.environ.get("SKYREEL_LOCAL_SCHEDULE_SCALE", "1"))
        self.period_s = max(0.5, schedule.every_minutes * 60 * scale)

    def poll_once(self) -> None:
        if self.stop_event.wait(self.period_s):
            return
        try:
            self.runtime.invoke(self.schedule.function, scheduled_event(self.schedule))
        except InvocationError as exc:
            log.warning("%s: run failed: %s", self.name, exc)


def scheduled_event(schedule: ScheduleTrigger) -> dict[str, Any]:
    """What EventBridge sends a scheduled rule's target (events/eventbridge-scheduled.json)."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT,
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "region": REGION,
        "resources": [f"arn:aws:events:{REGION}:{ACCOUNT}:rule/skyreel-{schedule.id}"],
        "detail": {},
    }


def start_pollers(
    topology: Topology, names: LocalNames, aws: Any, runtime: LambdaRuntime, stop: threading.Event
) -> list[threading.Thread]:
    sqs, ddb = aws.client("sqs"), aws.client("dynamodb")
    streams, sfn = aws.client("dynamodbstreams"), aws.client("stepfunctions")
    pollers: list[_Poller] = []
    for qt in topology.queue_triggers:
        fn = topology.function(qt.function)
        # Several concurrent receivers, as the Lambda SQS poller scales out, bounded by the function's limit.
        for _ in range(max(1, min(2, fn.reserved_concurrency or fn.local_concurrency))):
            pollers.append(QueuePoller(qt, names, sqs, runtime, stop))
    for st in topology.stream_triggers:
        pollers.append(StreamPoller(st, names, ddb, streams, runtime, stop))
    for rule in topology.rules:
        pollers.append(RulePoller(rule, names, sqs, sfn, runtime, stop))
    for schedule in topology.schedules:
        pollers.append(ScheduleTimer(schedule, runtime, stop))
    for poller in pollers:
        poller.start()
    return list(pollers)
