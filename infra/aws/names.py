"""How the CDK back end names resources for `Topology.environment_for`: CloudFormation tokens."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.model import ResourceNames, StateMachine


class CdkResourceNames(ResourceNames):
    def __init__(
        self,
        *,
        stage: str,
        tables: Mapping[str, dynamodb.ITable],
        buckets: Mapping[str, s3.IBucket],
        queues: Mapping[str, sqs.IQueue],
        buses: Mapping[str, events.IEventBus],
        secrets: Mapping[str, secretsmanager.ISecret],
        state_machine_arns: Mapping[str, str],
        media_key_pair_id: str | None = None,
        usage_plan_prefix: str = "",
    ) -> None:
        self.stage = stage
        self._tables = tables
        self._buckets = buckets
        self._queues = queues
        self._buses = buses
        self._secrets = secrets
        self._state_machine_arns = state_machine_arns
        self._media_key_pair_id = media_key_pair_id
        self._usage_plan_prefix = usage_plan_prefix

    def table(self, table_id: str) -> str:
        return self._tables[table_id].table_name

    def bucket(self, bucket_id: str) -> str:
        return self._buckets[bucket_id].bucket_name

    def queue_url(self, queue_id: str) -> str:
        return self._queues[queue_id].queue_url

    def bus(self, bus_id: str) -> str:
        return self._buses[bus_id].event_bus_name

    def secret(self, secret_id: str) -> str:
        # The ARN, not the name: GetSecretValue accepts either, and the ARN is unambiguous.
        return self._secrets[secret_id].secret_arn

    def state_machine_arn(self, machine_id: str) -> str:
        # Computed from the machine's fixed name rather than referenced, so a function that starts a
        # workflow which invokes that same function does not make a CloudFormation dependency cycle.
        return self._state_machine_arns[machine_id]

    def media_key_pair_id(self) -> str:
        # The CloudFront public key's id (a token): the `Key-Pair-Id` that signed media URLs name.
        if self._media_key_pair_id is None:
            raise ValueError("the topology declares no media, so there is no media key pair id")
        return self._media_key_pair_id

    def usage_plan(self, plan_id: str) -> str:
        return usage_plan_name(self._usage_plan_prefix, plan_id)


def usage_plan_name(prefix: str, plan_id: str) -> str:
    """A usage plan's fixed name: functions find the plan by it, with no dependency on the API."""
    return f"{prefix}-{plan_id}"


def state_machine_name(scope: Construct, machine: StateMachine) -> str:
    """A machine's fixed name: its ARN is then known before it exists (see `state_machine_arn`)."""
    return f"{Stack.of(scope).stack_name}-{machine.id}"
