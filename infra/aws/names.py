"""How the CDK back end names resources for `Topology.environment_for`: CloudFormation tokens."""

from __future__ import annotations

from collections.abc import Mapping

import jsii
from aws_cdk import IStableStringProducer, Lazy, Stack
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
        usage_plan_prefix: str = "",
    ) -> None:
        self.stage = stage
        self._tables = tables
        self._buckets = buckets
        self._queues = queues
        self._buses = buses
        self._secrets = secrets
        self._state_machine_arns = state_machine_arns
        # The CDN is built after the functions (it fronts their API): its URL and id are filled in then.
        self.cdn_url_value = Later("the CDN's URL")
        self.cdn_distribution_id_value = Later("the CDN's distribution id")
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

    def cdn_url(self) -> str:
        return self.cdn_url_value.token()

    def cdn_distribution_id(self) -> str:
        return self.cdn_distribution_id_value.token()

    def usage_plan(self, plan_id: str) -> str:
        return usage_plan_name(self._usage_plan_prefix, plan_id)


@jsii.implements(IStableStringProducer)
class Later:
    """A value of a construct made after the one that needs it: a token now, the value at synthesis.

    The functions get the distribution's domain and id straight from CloudFormation (Fn::GetAtt / Ref),
    which makes no dependency cycle: the distribution depends on the REST API resource only (its origin is
    built from the API id and the literal stage name), not on the deployment, methods or functions.
    """

    def __init__(self, what: str) -> None:
        self.what = what
        self.value: str | None = None

    def produce(self) -> str:
        if self.value is None:
            raise ValueError(f"{self.what} was needed but never set (is there a CDN?)")
        return self.value

    def token(self) -> str:
        return Lazy.string(self)


def usage_plan_name(prefix: str, plan_id: str) -> str:
    """A usage plan's fixed name: functions find the plan by it, with no dependency on the API."""
    return f"{prefix}-{plan_id}"


def state_machine_name(scope: Construct, machine: StateMachine) -> str:
    """A machine's fixed name: its ARN is then known before it exists (see `state_machine_arn`)."""
    return f"{Stack.of(scope).stack_name}-{machine.id}"
