"""Step Functions state machines from the topology's shared ASL files."""

from __future__ import annotations

import json

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.aws.compute import S3_GRANT_REASON, S3_READ_ACTIONS, S3_WRITE_ACTIONS, Compute
from infra.aws.nag import (
    RESOURCE_STAR,
    RESOURCE_STAR_REASON,
    acknowledge_all,
    wildcard_action,
    wildcard_resource,
)
from infra.aws.names import state_machine_name
from infra.aws.storage import Storage
from infra.model import StateMachine, Topology, placeholders, substitutions


def state_machine_arns(scope: Construct, topology: Topology) -> dict[str, str]:
    """ARNs known before the machines exist, so functions can be given them without a dependency cycle."""
    stack = Stack.of(scope)
    return {
        m.id: stack.format_arn(
            service="states",
            resource="stateMachine",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
            resource_name=state_machine_name(scope, m),
        )
        for m in topology.state_machines
    }


def definition_with_timeout(machine: StateMachine) -> sfn.DefinitionBody:
    """The shared ASL file with the topology's timeout as its top-level TimeoutSeconds.

    `DefinitionBody.from_file` would upload the file untouched, and aws-cdk-lib silently ignores the
    `timeout` prop for file and string bodies (aws/aws-cdk#37150), so the timeout is written in here.
    """
    definition = json.loads(machine.definition_text())
    definition["TimeoutSeconds"] = machine.timeout_s
    return sfn.DefinitionBody.from_string(json.dumps(definition, indent=1))


class Workflows(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, topology: Topology, storage: Storage, compute: Compute
    ) -> None:
        super().__init__(scope, construct_id)
        self._storage = storage
        self._compute = compute
        self.state_machines = {m.id: self._state_machine(m) for m in topology.state_machines}

    def _state_machine(self, machine: StateMachine) -> sfn.StateMachine:
        values = self._substitutions(machine)
        missing = placeholders(machine.definition_text()) - values.keys()
        if missing:
            raise ValueError(f"state machine {machine.id}: {sorted(missing)} not declared in the topology")
        resource = sfn.StateMachine(
            self,
            f"StateMachine-{machine.id}",
            state_machine_name=state_machine_name(self, machine),
            state_machine_type=sfn.StateMachineType.STANDARD,
            definition_body=definition_with_timeout(machine),
            definition_substitutions=values,
            tracing_enabled=True,
            logs=sfn.LogOptions(
                destination=logs.LogGroup(self, f"Logs-{machine.id}", retention=logs.RetentionDays.ONE_MONTH),
                level=sfn.LogLevel.ALL,
                include_execution_data=True,
            ),
        )
        self._grant(machine, resource)
        return resource

    def _substitutions(self, machine: StateMachine) -> dict[str, str]:
        return substitutions(
            machine,
            function_arn={k: f.function_arn for k, f in self._compute.functions.items()},
            table={k: t.table_name for k, t in self._storage.tables.items()},
            bucket={k: b.bucket_name for k, b in self._storage.buckets.items()},
            bus={k: b.event_bus_name for k, b in self._storage.buses.items()},
        )

    def _grant(self, machine: StateMachine, resource: sfn.StateMachine) -> None:
        reasons = {RESOURCE_STAR: RESOURCE_STAR_REASON}
        for function_id in machine.functions:
            function = self._compute.functions[function_id]
            function.grant_invoke(resource)
            reasons[wildcard_resource(function.function_arn, ":*", self)] = (
                f"invoking any version/alias of {function_id}, which the workflow calls"
            )
        for table_id in machine.tables:
            self._storage.tables[table_id].grant_read_write_data(resource)
            reasons[wildcard_resource(self._storage.tables[table_id].table_arn, "/index/*", self)] = (
                f"the workflow queries the {table_id} table's indexes"
            )
        for bucket_id in machine.buckets:
            bucket = self._storage.buckets[bucket_id]
            bucket.grant_read_write(resource)
            reasons[wildcard_resource(bucket.bucket_arn, "/*", self)] = f"objects of the {bucket_id} bucket"
            reasons.update({wildcard_action(a): S3_GRANT_REASON for a in S3_READ_ACTIONS + S3_WRITE_ACTIONS})
        for bus_id in machine.buses:
            self._storage.buses[bus_id].grant_put_events_to(resource)
        acknowledge_all(resource, reasons)
