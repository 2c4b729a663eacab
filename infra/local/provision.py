"""Create the topology's resources in the local AWS endpoint (moto), as CDK creates them in AWS.

Every step is idempotent, so provisioning over restored state (or twice) changes nothing.
Bucket notifications and rule targets are wired separately (`wire_triggers`), after restored data is
back, so restoring the uploads bucket does not look like a burst of new uploads.
"""

from __future__ import annotations

import json
import secrets as pysecrets
from typing import Any

from botocore.exceptions import ClientError

from functions.shared.keyset import KeySet, new_keyset
from functions.shared.media_token import new_media_keys
from infra.local.names import LocalNames
from infra.model import Secret, SecretKind, Table, Topology, placeholders, substitutions

LOCAL_ROLE_ARN = "arn:aws:iam::123456789012:role/skyreel-local"


def _already(exc: ClientError, *codes: str) -> bool:
    return exc.response.get("Error", {}).get("Code") in codes


def _table_request(table: Table, name: str) -> dict[str, Any]:
    attributes = {table.partition_key}
    keys = [{"AttributeName": table.partition_key, "KeyType": "HASH"}]
    if table.sort_key:
        attributes.add(table.sort_key)
        keys.append({"AttributeName": table.sort_key, "KeyType": "RANGE"})
    indexes = []
    for index in table.indexes:
        index_keys = [{"AttributeName": index.partition_key, "KeyType": "HASH"}]
        attributes.add(index.partition_key)
        if index.sort_key:
            index_keys.append({"AttributeName": index.sort_key, "KeyType": "RANGE"})
            attributes.add(index.sort_key)
        indexes.append(
            {"IndexName": index.name, "KeySchema": index_keys, "Projection": {"ProjectionType": "ALL"}}
        )
    request: dict[str, Any] = {
        "TableName": name,
        "KeySchema": keys,
        "AttributeDefinitions": [{"AttributeName": a, "AttributeType": "S"} for a in sorted(attributes)],
        "BillingMode": "PAY_PER_REQUEST",
    }
    if indexes:
        request["GlobalSecondaryIndexes"] = indexes
    if table.stream:
        request["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    return request


def generate_secret_value(secret: Secret) -> str:
    if secret.kind is SecretKind.RSA_KEYSET:
        return new_keyset().to_json()
    if secret.kind is SecretKind.MEDIA_TOKEN_KEYS:
        return new_media_keys().to_json()
    return pysecrets.token_urlsafe(36)


class Provisioner:
    def __init__(self, topology: Topology, names: LocalNames, clients: Any) -> None:
        self.topology = topology
        self.names = names
        self.aws = clients

    def seed_secrets(self, values: dict[str, str]) -> None:
        """Create secrets with saved values (a restart must keep signing keys, or old tokens break)."""
        sm = self.aws.client("secretsmanager")
        for secret in self.topology.secrets:
            if secret.id in values:
                try:
                    sm.create_secret(
                        Name=self.names.secret(secret.id),
                        Description=secret.description,
                        SecretString=values[secret.id],
                    )
                except ClientError as exc:
                    if not _already(exc, "ResourceExistsException"):
                        raise

    def create_resources(self) -> None:
        self._tables()
        self._buckets()
        self._queues()
        self._buses()
        self._secrets()
        self._state_machines()

    def _tables(self) -> None:
        ddb = self.aws.client("dynamodb")
        for table in self.topology.tables:
            name = self.names.table(table.id)
            try:
                ddb.create_table(**_table_request(table, name))
            except ClientError as exc:
                if not _already(exc, "ResourceInUseException"):
                    raise
            if table.ttl_attribute:
                ddb.update_time_to_live(
                    TableName=name,
                    TimeToLiveSpecification={"Enabled": True, "AttributeName": table.ttl_attribute},
                )

    def _buckets(self) -> None:
        s3 = self.aws.client("s3")
        for bucket in self.topology.buckets:
            name = self.names.bucket(bucket.id)
            try:
                s3.create_bucket(Bucket=name)
            except ClientError as exc:
                if not _already(exc, "BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                    raise
            if bucket.cors:
                s3.put_bucket_cors(
                    Bucket=name,
                    CORSConfiguration={
                        "CORSRules": [
                            {
                                "AllowedMethods": list(bucket.cors.allowed_methods),
                                "AllowedOrigins": list(bucket.cors.allowed_origins),
                                "AllowedHeaders": list(bucket.cors.allowed_headers),
                                "ExposeHeaders": list(bucket.cors.exposed_headers),
                                "MaxAgeSeconds": bucket.cors.max_age_s,
                            }
                        ]
                    },
                )
            if bucket.abort_incomplete_multipart_days:
                s3.put_bucket_lifecycle_configuration(
                    Bucket=name,
                    LifecycleConfiguration={
                        "Rules": [
                            {
                                "ID": "abort-incomplete-multipart",
                                "Status": "Enabled",
                                "Filter": {"Prefix": ""},
                                "AbortIncompleteMultipartUpload": {
                                    "DaysAfterInitiation": bucket.abort_incomplete_multipart_days
                                },
                            }
                        ]
                    },
                )

    def _create_queue(self, name: str, attributes: dict[str, str]) -> str:
        url: str = self.aws.client("sqs").create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        return url

    def _queues(self) -> None:
        for queue in self.topology.queues:
            dlq_url = self._create_queue(
                self.names.queue_name(queue.dlq_id), {"MessageRetentionPeriod": str(14 * 86400)}
            )
            dlq_arn = self.aws.client("sqs").get_queue_attributes(
                QueueUrl=dlq_url, AttributeNames=["QueueArn"]
            )["Attributes"]["QueueArn"]
            self._create_queue(
                self.names.queue_name(queue.id),
                {
                    "VisibilityTimeout": str(queue.visibility_timeout_s),
                    "MessageRetentionPeriod": str(queue.retention_days * 86400),
                    "RedrivePolicy": json.dumps(
                        {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": queue.max_receive_count}
                    ),
                },
            )
        for rule in self.topology.rules:
            self._create_queue(self.names.rule_queue(rule.id), {"VisibilityTimeout": "60"})

    def _buses(self) -> None:
        events = self.aws.client("events")
        for bus in self.topology.buses:
            try:
                events.create_event_bus(Name=self.names.bus(bus.id))
            except ClientError as exc:
                if not _already(exc, "ResourceAlreadyExistsException"):
                    raise

    def _secrets(self) -> None:
        sm = self.aws.client("secretsmanager")
        for secret in self.topology.secrets:
            if secret.kind is SecretKind.PUBLIC_JWKS:
                continue
            name = self.names.secret(secret.id)
            try:
                sm.describe_secret(SecretId=name)
            except ClientError as exc:
                if not _already(exc, "ResourceNotFoundException"):
                    raise
                sm.create_secret(
                    Name=name, Description=secret.description, SecretString=generate_secret_value(secret)
                )
        for secret in self.topology.secrets:
            if secret.kind is SecretKind.PUBLIC_JWKS:
                self.publish_public_keys(secret)

    def publish_public_keys(self, secret: Secret) -> None:
        """Write the public half of the key set it derives from, on every start: restored or rotated
        keys are published again, so verifiers (granted only this secret) see the current set."""
        assert secret.derived_from is not None
        sm = self.aws.client("secretsmanager")
        source = sm.get_secret_value(SecretId=self.names.secret(secret.derived_from))["SecretString"]
        value = KeySet.from_json(source).public_jwks_json()
        name = self.names.secret(secret.id)
        try:
            sm.create_secret(Name=name, Description=secret.description, SecretString=value)
        except ClientError as exc:
            if not _already(exc, "ResourceExistsException"):
                raise
            sm.put_secret_value(SecretId=name, SecretString=value)

    def state_machine_definition(self, machine_id: str) -> str:
        machine = self.topology.state_machine(machine_id)
        values = substitutions(
            machine,
            function_arn={f.id: self.names.function_arn(f) for f in self.topology.functions},
            table={t.id: self.names.table(t.id) for t in self.topology.tables},
            bucket={b.id: self.names.bucket(b.id) for b in self.topology.buckets},
            bus={b.id: self.names.bus(b.id) for b in self.topology.buses},
        )
        text = machine.definition_text()
        missing = placeholders(text) - set(values)
        if missing:
            raise ValueError(f"state machine {machine_id}: no value for {sorted(missing)}")
        for key, value in values.items():
            text = text.replace("${" + key + "}", value)
        return text

    def _state_machines(self) -> None:
        sfn = self.aws.client("stepfunctions")
        existing = {m["name"]: m["stateMachineArn"] for m in sfn.list_state_machines()["stateMachines"]}
        for machine in self.topology.state_machines:
            name = self.names.state_machine_name(machine.id)
            definition = self.state_machine_definition(machine.id)
            if name in existing:
                sfn.update_state_machine(stateMachineArn=existing[name], definition=definition)
            else:
                sfn.create_state_machine(name=name, definition=definition, roleArn=LOCAL_ROLE_ARN)

    def wire_triggers(self) -> None:
        """S3 -> SQS notifications and EventBridge rules (whose local target is a queue per rule)."""
        s3 = self.aws.client("s3")
        by_bucket: dict[str, list[dict[str, Any]]] = {}
        for n in self.topology.s3_to_queue:
            rules = [{"Name": "prefix", "Value": n.prefix}] if n.prefix else []
            if n.suffix:
                rules.append({"Name": "suffix", "Value": n.suffix})
            config: dict[str, Any] = {"QueueArn": self.names.queue_arn(n.queue), "Events": list(n.events)}
            if rules:
                config["Filter"] = {"Key": {"FilterRules": rules}}
            by_bucket.setdefault(n.bucket, []).append(config)
        for bucket_id, configs in by_bucket.items():
            s3.put_bucket_notification_configuration(
                Bucket=self.names.bucket(bucket_id),
                NotificationConfiguration={"QueueConfigurations": configs},
            )
        events = self.aws.client("events")
        for rule in self.topology.rules:
            bus = self.names.bus(rule.bus)
            name = f"skyreel-{rule.id.replace('_', '-')}"
            events.put_rule(
                Name=name, EventBusName=bus, EventPattern=json.dumps(rule.pattern), State="ENABLED"
            )
            events.put_targets(
                Rule=name,
                EventBusName=bus,
                Targets=[
                    {
                        "Id": "local-poller",
                        "Arn": f"arn:aws:sqs:us-east-1:123456789012:{self.names.rule_queue(rule.id)}",
                    }
                ],
            )
