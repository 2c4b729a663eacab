"""Tables, buckets, queues, buses, secrets and the S3 -> SQS buffer, as declared."""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Match

from infra.aws.secrets import KEYGEN_RESOURCE_TYPES
from tests.infra.conftest import Synthesized
from tests.infra.helpers import logical_id, props, resources

pytestmark = pytest.mark.infra


def test_tables_are_on_demand_with_pitr_keys_indexes_stream_and_ttl(synthesized: Synthesized) -> None:
    for table in synthesized.topology.tables:
        p = props(synthesized.template, logical_id(synthesized.stack.storage.tables[table.id]))
        assert p["BillingMode"] == "PAY_PER_REQUEST", table.id
        assert p["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}, table.id
        keys = [{"AttributeName": table.partition_key, "KeyType": "HASH"}]
        if table.sort_key:
            keys.append({"AttributeName": table.sort_key, "KeyType": "RANGE"})
        assert p["KeySchema"] == keys, table.id
        assert [i["IndexName"] for i in p.get("GlobalSecondaryIndexes", [])] == [
            i.name for i in table.indexes
        ]
        if table.stream:
            assert p["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}, table.id
        else:
            assert "StreamSpecification" not in p, table.id
        if table.ttl_attribute:
            assert p["TimeToLiveSpecification"] == {"AttributeName": table.ttl_attribute, "Enabled": True}


def test_buckets_block_public_access_encrypt_and_follow_the_model(synthesized: Synthesized) -> None:
    for bucket in synthesized.topology.buckets:
        bucket_id = logical_id(synthesized.stack.storage.buckets[bucket.id])
        p = props(synthesized.template, bucket_id)
        assert p["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }, bucket.id
        assert p["BucketEncryption"]["ServerSideEncryptionConfiguration"] == [
            {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
        ], bucket.id
        assert "LoggingConfiguration" in p, bucket.id
        if bucket.cors:
            rule = p["CorsConfiguration"]["CorsRules"][0]
            assert rule["AllowedMethods"] == list(bucket.cors.allowed_methods)
            assert rule["ExposedHeaders"] == list(bucket.cors.exposed_headers)
        else:
            assert "CorsConfiguration" not in p, bucket.id
        if bucket.abort_incomplete_multipart_days is not None:
            assert {
                "AbortIncompleteMultipartUpload": {
                    "DaysAfterInitiation": bucket.abort_incomplete_multipart_days
                },
                "Id": "abort-incomplete-multipart",
                "Status": "Enabled",
            } in p["LifecycleConfiguration"]["Rules"]
        synthesized.template.has_resource_properties(
            "AWS::S3::BucketPolicy",
            {
                "Bucket": {"Ref": bucket_id},
                "PolicyDocument": {
                    "Statement": Match.array_with(
                        [
                            Match.object_like(
                                {"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
                            )
                        ]
                    )
                },
            },
        )


def test_every_queue_has_its_dead_letter_queue(synthesized: Synthesized) -> None:
    storage = synthesized.stack.storage
    for queue in synthesized.topology.queues:
        p = props(synthesized.template, logical_id(storage.queues[queue.id]))
        dlq = logical_id(storage.dead_letter_queues[queue.id])
        assert p["RedrivePolicy"] == {
            "deadLetterTargetArn": {"Fn::GetAtt": [dlq, "Arn"]},
            "maxReceiveCount": queue.max_receive_count,
        }, queue.id
        assert p["VisibilityTimeout"] == queue.visibility_timeout_s
        assert p["MessageRetentionPeriod"] == queue.retention_days * 86400
        assert "RedrivePolicy" not in props(synthesized.template, dlq)


def test_every_queue_refuses_plain_http(synthesized: Synthesized) -> None:
    queues = resources(synthesized.template, "AWS::SQS::Queue")
    policies = resources(synthesized.template, "AWS::SQS::QueuePolicy").values()
    for queue_id in queues:
        assert any(
            {"Ref": queue_id} in p["Properties"]["Queues"]
            and any(
                s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}} and s["Effect"] == "Deny"
                for s in p["Properties"]["PolicyDocument"]["Statement"]
            )
            for p in policies
        ), queue_id


def test_one_event_bus_per_declared_bus(synthesized: Synthesized) -> None:
    synthesized.template.resource_count_is("AWS::Events::EventBus", len(synthesized.topology.buses))


def test_s3_notifications_reach_their_queue_with_filters(synthesized: Synthesized) -> None:
    storage = synthesized.stack.storage
    notifications = resources(synthesized.template, "Custom::S3BucketNotifications").values()
    for declared in synthesized.topology.s3_to_queue:
        bucket = {"Ref": logical_id(storage.buckets[declared.bucket])}
        config = next(
            n["Properties"]["NotificationConfiguration"]
            for n in notifications
            if n["Properties"]["BucketName"] == bucket
        )
        expected = {("prefix", declared.prefix), ("suffix", declared.suffix)} - {
            ("prefix", ""),
            ("suffix", ""),
        }
        queue_arn = {"Fn::GetAtt": [logical_id(storage.queues[declared.queue]), "Arn"]}
        assert any(
            c["QueueArn"] == queue_arn
            and c["Events"] == list(declared.events)
            and {(r["Name"], r["Value"]) for r in c["Filter"]["Key"]["FilterRules"]} == expected
            for c in config["QueueConfigurations"]
        ), config


def test_secrets_random_and_rsa(synthesized: Synthesized) -> None:
    for secret in synthesized.topology.secrets:
        p = props(synthesized.template, logical_id(synthesized.stack.secrets.secrets[secret.id]))
        assert p["Description"] == secret.description
        assert p["GenerateSecretString"]["PasswordLength"] == 48
    for kind, resource_type in KEYGEN_RESOURCE_TYPES.items():
        generated = [s for s in synthesized.topology.secrets if s.kind is kind]
        keygens = resources(synthesized.template, resource_type).values()
        assert sorted(str(k["Properties"]["SecretArn"]) for k in keygens) == sorted(
            str({"Ref": logical_id(synthesized.stack.secrets.secrets[s.id])}) for s in generated
        ), kind
        assert all(k["Properties"]["Kind"] == kind.value for k in keygens)
