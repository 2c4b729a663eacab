"""Tables, buckets, queues and event buses, one construct each, straight from the topology."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.aws.nag import acknowledge
from infra.aws.stage import DEFAULT_STAGE, Stage
from infra.model import Bucket, Cors, Queue, Table, Topology

DLQ_RETENTION = Duration.days(14)  # the longest SQS allows: time to inspect and redrive poison messages


class Storage(Construct):
    """Every stateful resource the topology declares, with stable stage-prefixed names. Data (tables,
    buckets) is retained on stack delete, except in a disposable stage (`dev`, infra/aws/stage.py)."""

    def __init__(
        self, scope: Construct, construct_id: str, *, topology: Topology, stage: Stage | None = None
    ) -> None:
        super().__init__(scope, construct_id)
        self.stage = stage or Stage(DEFAULT_STAGE)
        self.access_logs = self._access_log_bucket()
        self.tables = {t.id: self._table(t) for t in topology.tables}
        self.buckets = {b.id: self._bucket(b) for b in topology.buckets}
        self.dead_letter_queues: dict[str, sqs.Queue] = {}
        self.queues = {q.id: self._queue(q) for q in topology.queues}
        self.buses = {b.id: events.EventBus(self, f"Bus-{b.id}") for b in topology.buses}

    def _table(self, table: Table) -> dynamodb.Table:
        resource = dynamodb.Table(
            self,
            f"Table-{table.id}",
            table_name=self.stage.table_name(table.id),
            partition_key=_string_key(table.partition_key),
            sort_key=_string_key(table.sort_key) if table.sort_key else None,
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            stream=dynamodb.StreamViewType.NEW_AND_OLD_IMAGES if table.stream else None,
            time_to_live_attribute=table.ttl_attribute,
            removal_policy=self.stage.data_removal,
            # A retained table also refuses a delete by hand or a replacing update, until this is lifted.
            deletion_protection=not self.stage.disposable,
        )
        for index in table.indexes:
            resource.add_global_secondary_index(
                index_name=index.name,
                partition_key=_string_key(index.partition_key),
                sort_key=_string_key(index.sort_key) if index.sort_key else None,
            )
        return resource

    def _bucket(self, bucket: Bucket) -> s3.Bucket:
        lifecycle = []
        if bucket.abort_incomplete_multipart_days is not None:
            lifecycle.append(
                s3.LifecycleRule(
                    id="abort-incomplete-multipart",
                    abort_incomplete_multipart_upload_after=Duration.days(
                        bucket.abort_incomplete_multipart_days
                    ),
                )
            )
        return s3.Bucket(
            self,
            f"Bucket-{bucket.id}",
            bucket_name=self.stage.bucket_name(bucket.id),
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            encryption=s3.BucketEncryption.S3_MANAGED,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            cors=[_cors_rule(bucket.cors)] if bucket.cors else None,
            lifecycle_rules=lifecycle or None,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix=f"s3/{bucket.id}/",
            # Retained and never auto-emptied, so deleting the stack does not delete videos; a disposable
            # stage's buckets are emptied and deleted with it.
            removal_policy=self.stage.data_removal,
            auto_delete_objects=self.stage.disposable,
        )

    def _access_log_bucket(self) -> s3.Bucket:
        bucket = s3.Bucket(
            self,
            "AccessLogs",
            bucket_name=self.stage.bucket_name("access-logs"),
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            encryption=s3.BucketEncryption.S3_MANAGED,
            # CloudFront standard logging writes with ACLs, so this one bucket keeps them enabled.
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
            lifecycle_rules=[s3.LifecycleRule(id="expire-logs", expiration=Duration.days(90))],
            removal_policy=self.stage.data_removal,
            auto_delete_objects=self.stage.disposable,
        )
        acknowledge(bucket, "AwsSolutions-S1", "the access-log destination; logging it to itself would loop")
        return bucket

    def _queue(self, queue: Queue) -> sqs.Queue:
        dlq = sqs.Queue(
            self,
            f"Queue-{queue.dlq_id}",
            enforce_ssl=True,
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            retention_period=DLQ_RETENTION,
        )
        self.dead_letter_queues[queue.id] = dlq
        return sqs.Queue(
            self,
            f"Queue-{queue.id}",
            enforce_ssl=True,
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            visibility_timeout=Duration.seconds(queue.visibility_timeout_s),
            retention_period=Duration.days(queue.retention_days),
            dead_letter_queue=sqs.DeadLetterQueue(queue=dlq, max_receive_count=queue.max_receive_count),
        )


def _string_key(name: str) -> dynamodb.Attribute:
    return dynamodb.Attribute(name=name, type=dynamodb.AttributeType.STRING)


def _cors_rule(cors: Cors) -> s3.CorsRule:
    return s3.CorsRule(
        allowed_methods=[s3.HttpMethods(m) for m in cors.allowed_methods],
        allowed_origins=list(cors.allowed_origins),
        allowed_headers=list(cors.allowed_headers),
        exposed_headers=list(cors.exposed_headers),
        max_age=cors.max_age_s,
    )
