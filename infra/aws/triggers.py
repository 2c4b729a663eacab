"""Wiring: S3 -> SQS notifications, SQS and DynamoDB stream event sources, EventBridge rules and schedules."""

from __future__ import annotations

import re
from collections.abc import Mapping

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_notifications as s3n
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.aws.nag import acknowledge
from infra.aws.storage import DLQ_RETENTION, Storage
from infra.model import EventRule, S3ToQueue, ScheduleTrigger, StreamTrigger, Topology

# EventBridge pattern keys as written in the topology (JSON names) -> EventPattern fields.
PATTERN_FIELDS = {
    "source": "source",
    "detail-type": "detail_type",
    "detail": "detail",
    "account": "account",
    "region": "region",
    "resources": "resources",
    "id": "id",
    "time": "time",
    "version": "version",
}


class Triggers(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        topology: Topology,
        storage: Storage,
        functions: Mapping[str, lambda_.Function],
        state_machines: Mapping[str, sfn.IStateMachine],
    ) -> None:
        super().__init__(scope, construct_id)
        self._storage = storage
        self._functions = functions
        self._state_machines = state_machines
        self.failure_queues: dict[str, sqs.IQueue] = {}  # stream triggers' on-failure destinations
        for notification in topology.s3_to_queue:
            self._notify(notification)
        for qt in topology.queue_triggers:
            window = qt.max_batching_window_s
            functions[qt.function].add_event_source(
                sources.SqsEventSource(
                    storage.queues[qt.queue],
                    batch_size=qt.batch_size,
                    max_batching_window=Duration.seconds(window) if window else None,
                    report_batch_item_failures=True,
                )
            )
        for st in topology.stream_triggers:
            self._stream(st)
        for rule in topology.rules:
            self._rule(rule)
        for schedule in topology.schedules:
            self._schedule(schedule)

    def _notify(self, notification: S3ToQueue) -> None:
        bucket = self._storage.buckets[notification.bucket]
        key_filter = s3.NotificationKeyFilter(
            prefix=notification.prefix or None, suffix=notification.suffix or None
        )
        for event in notification.events:
            queue = self._storage.queues[notification.queue]
            bucket.add_event_notification(s3_event_type(event), s3n.SqsDestination(queue), key_filter)

    def _stream(self, trigger: StreamTrigger) -> None:
        # Records that still fail after the retries (and bisection) land here instead of blocking the shard.
        failures = sqs.Queue(
            self,
            f"StreamFailures-{trigger.table}-{trigger.function}",
            enforce_ssl=True,
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            retention_period=DLQ_RETENTION,
        )
        acknowledge(failures, "AwsSolutions-SQS3", "this queue is a stream trigger's on-failure destination")
        # A parked record is a change the function never applied (a search index missing an update): the
        # monitoring alarms on it like on every dead-letter queue (infra/aws/monitoring.py).
        self.failure_queues[f"{trigger.table}_stream_{trigger.function}"] = failures
        self._functions[trigger.function].add_event_source(
            sources.DynamoEventSource(
                self._storage.tables[trigger.table],
                starting_position=lambda_.StartingPosition.LATEST,
                batch_size=trigger.batch_size,
                retry_attempts=trigger.retry_attempts,
                bisect_batch_on_error=True,
                report_batch_item_failures=True,
                on_failure=sources.SqsDlq(failures),
            )
        )

    def _rule(self, rule: EventRule) -> None:
        target: events.IRuleTarget
        if rule.function is not None:
            target = targets.LambdaFunction(self._functions[rule.function])
        else:
            target = targets.SfnStateMachine(self._state_machines[str(rule.state_machine)])
        events.Rule(
            self,
            f"Rule-{rule.id}",
            event_bus=self._storage.buses[rule.bus],
            event_pattern=event_pattern(rule.pattern),
            targets=[target],
        )

    def _schedule(self, schedule: ScheduleTrigger) -> None:
        # Scheduled rules live on the account's default bus, the only one that runs schedules.
        events.Rule(
            self,
            f"Schedule-{schedule.id}",
            description=f"{schedule.id}: runs {schedule.function} every {schedule.every_minutes} min",
            schedule=events.Schedule.rate(Duration.minutes(schedule.every_minutes)),
            targets=[targets.LambdaFunction(self._functions[schedule.function])],
        )


def s3_event_type(event: str) -> s3.EventType:
    """`s3:ObjectCreated:*` (S3's name, used by the topology) -> `EventType.OBJECT_CREATED`."""
    parts = [p for p in event.removeprefix("s3:").split(":") if p != "*"]
    return s3.EventType("_".join(re.sub(r"(?<!^)(?=[A-Z])", "_", p).upper() for p in parts))


def event_pattern(pattern: Mapping[str, object]) -> events.EventPattern:
    unknown = set(pattern) - PATTERN_FIELDS.keys()
    if unknown:
        raise ValueError(f"unsupported EventBridge pattern keys: {sorted(unknown)}")
    return events.EventPattern(**{PATTERN_FIELDS[k]: v for k, v in pattern.items()})  # type: ignore[arg-type]
