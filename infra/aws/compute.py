"""Lambda functions from the topology: code, shared layer, environment, grants, tracing and logs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.aws.layer import ARCHITECTURE, EXPORT, RUNTIME, bundled_code
from infra.aws.nag import (
    BASIC_EXECUTION,
    BASIC_EXECUTION_REASON,
    RESOURCE_STAR,
    RESOURCE_STAR_REASON,
    acknowledge,
    acknowledge_all,
    wildcard_action,
    wildcard_arn,
    wildcard_resource,
)
from infra.aws.names import CdkResourceNames, state_machine_name
from infra.aws.secrets import Secrets
from infra.aws.storage import Storage
from infra.model import Access, Function, Grant, Packaging, Topology

# The deployment package is the `functions` package and nothing else (dependencies come from the layer).
CODE_EXCLUDES = [
    "*",
    ".*",
    "!functions",
    "!functions/**",
    "**/__pycache__",
    "**/*.pyc",
    "**/tests",
    "**/Dockerfile",
    "**/.pytest_cache",
    "**/.mypy_cache",
    "**/.ruff_cache",
]
# An image build also needs the lock to install dependencies inside the image.
IMAGE_EXCLUDES = [
    *CODE_EXCLUDES[:4],
    "!pyproject.toml",
    "!uv.lock",
    "!functions/*/Dockerfile",
    "**/__pycache__",
    "**/tests",
]
LOG_RETENTION = logs.RetentionDays.ONE_MONTH
S3_READ_ACTIONS = ("s3:GetObject*", "s3:GetBucket*", "s3:List*")
S3_WRITE_ACTIONS = ("s3:DeleteObject*", "s3:Abort*")
S3_GRANT_REASON = "aws-cdk-lib's standard S3 grant, scoped to one bucket"


class Compute(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        topology: Topology,
        storage: Storage,
        secrets: Secrets,
        layer: lambda_.ILayerVersion | None,
        names: CdkResourceNames,
        source_root: Path,
    ) -> None:
        super().__init__(scope, construct_id)
        self._topology = topology
        self._storage = storage
        self._secrets = secrets
        self._names = names
        self._layer = layer
        self._source_root = source_root
        self.functions: dict[str, lambda_.Function] = {}
        for fn in topology.functions:
            function = self._function(fn)
            self.functions[fn.id] = function
            self._grant(fn, function)
            acknowledge_all(
                function,
                {
                    BASIC_EXECUTION: BASIC_EXECUTION_REASON,
                    RESOURCE_STAR: RESOURCE_STAR_REASON,
                    "AwsSolutions-L1": "Python 3.12 is pinned to match the layer's wheels and the project's lock",
                },
            )

    def _function(self, fn: Function) -> lambda_.Function:
        common: dict[str, Any] = {
            "description": fn.description,
            "architecture": ARCHITECTURE,
            "memory_size": fn.memory_mb,
            "timeout": Duration.seconds(fn.timeout_s),
            "reserved_concurrent_executions": fn.reserved_concurrency,
            "environment": self._topology.environment_for(fn, self._names),
            "tracing": lambda_.Tracing.ACTIVE,
            "log_group": logs.LogGroup(self, f"Logs-{fn.id}", retention=LOG_RETENTION),
        }
        if fn.packaging is Packaging.IMAGE and self._layer is not None:
            return lambda_.DockerImageFunction(self, f"Fn-{fn.id}", code=self._image(fn), **common)
        return lambda_.Function(
            self,
            f"Fn-{fn.id}",
            runtime=RUNTIME,
            handler=fn.handler,
            code=self._code(fn),
            layers=[self._layer] if self._layer is not None else [],
            **common,
        )

    def _code(self, fn: Function) -> lambda_.Code:
        """The `functions` package; without the shared layer (bundled packaging), with its dependencies, and
        an image function's extra (e.g. FFmpeg) too: LocalStack's free tier has neither layers nor ECR."""
        if self._layer is None:
            export = [*EXPORT, "--extra", fn.domain] if fn.packaging is Packaging.IMAGE else EXPORT
            return bundled_code(self._source_root, ["functions"], [export], CODE_EXCLUDES)
        return lambda_.Code.from_asset(str(self._source_root), exclude=CODE_EXCLUDES)

    def _image(self, fn: Function) -> lambda_.DockerImageCode:
        # The build context is the repository root so the image can copy functions/shared and uv.lock.
        return lambda_.DockerImageCode.from_image_asset(
            str(self._source_root),
            file=f"functions/{fn.domain}/Dockerfile",
            cmd=[fn.handler],
            platform=ecr_assets.Platform.LINUX_ARM64,
            exclude=IMAGE_EXCLUDES,
        )

    def _grant(self, fn: Function, function: lambda_.Function) -> None:
        for grant in fn.tables:
            self._grant_table(grant, function)
        for grant in fn.buckets:
            self._grant_bucket(grant, function)
        for grant in fn.queues:
            self._grant_queue(grant, function)
        for bus_id in fn.buses:
            self._storage.buses[bus_id].grant_put_events_to(function)
        for secret_id in self._readable_secrets(fn):
            self._secrets.secrets[secret_id].grant_read(function)
        if fn.manages_usage_keys:
            self._grant_usage_keys(function)
        for machine_id in fn.state_machines:
            function.add_to_role_policy(
                iam.PolicyStatement(
                    actions=["states:StartExecution"], resources=[self._names.state_machine_arn(machine_id)]
                )
            )
            # Starting is not enough for a caller that waits for the outcome (registration does).
            executions = self._execution_arns(machine_id)
            function.add_to_role_policy(
                iam.PolicyStatement(actions=["states:DescribeExecution"], resources=[executions])
            )
            acknowledge(
                function,
                wildcard_arn(executions, function),
                f"execution names are chosen per run; the grant covers only the {machine_id} workflow's executions",
            )

    def _grant_usage_keys(self, function: lambda_.Function) -> None:
        """API keys (one per account) and their usage plan membership: made and undone by the
        registration saga. API Gateway's IAM has no narrower resource than these paths."""
        region = Stack.of(self).region
        paths = ("/apikeys", "/apikeys/*", "/usageplans", "/usageplans/*/keys", "/usageplans/*/keys/*")
        resources = [f"arn:{Stack.of(self).partition}:apigateway:{region}::{p}" for p in paths]
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["apigateway:GET", "apigateway:POST", "apigateway:DELETE"], resources=resources
            )
        )
        for resource in resources:
            if "*" not in resource:
                continue
            # Rendered as cdk-nag renders it: tokens in an env-agnostic stack, literals when the CLI
            # resolved the region (npx cdk synth with a profile).
            acknowledge(
                function,
                wildcard_arn(resource, function),
                "per-account API keys have generated ids; the grant covers only API keys and usage plan keys",
            )

    def _readable_secrets(self, fn: Function) -> tuple[str, ...]:
        """The function's own secrets, plus the media signing key when it signs media URLs, plus the CDN's
        origin secret when it serves the API."""
        media = self._topology.media
        signing = (media.signing_secret,) if media is not None and fn.id in media.signers else ()
        api = self._topology.api
        checks_origin = api.origin_secret if fn.id in self._topology.origin_checkers() else None
        origin = (checks_origin,) if checks_origin else ()
        return tuple(dict.fromkeys((*fn.secrets, *signing, *origin)))

    def _execution_arns(self, machine_id: str) -> str:
        name = state_machine_name(self, self._topology.state_machine(machine_id))
        return Stack.of(self).format_arn(
            service="states",
            resource="execution",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
            resource_name=f"{name}:*",
        )

    def _grant_table(self, grant: Grant, function: lambda_.Function) -> None:
        table = self._storage.tables[grant.resource]
        if grant.access is Access.DESCRIBE:
            _describe(function, "dynamodb:DescribeTable", table.table_arn)
            return
        if grant.access is Access.READ:
            table.grant_read_data(function)
        elif grant.access is Access.WRITE:
            table.grant_write_data(function)
        else:
            table.grant_read_write_data(function)
        if self._topology.table(grant.resource).indexes:
            acknowledge(
                function,
                wildcard_resource(table.table_arn, "/index/*", function),
                f"queries every index of the {grant.resource} table it owns",
            )

    def _grant_bucket(self, grant: Grant, function: lambda_.Function) -> None:
        bucket = self._storage.buckets[grant.resource]
        if grant.access is Access.DESCRIBE:
            # Not s3:ListBucket (what HeadBucket needs): that would list every key, and keys name videos.
            _describe(function, "s3:GetBucketLocation", bucket.bucket_arn)
            return
        actions: tuple[str, ...] = ()
        if grant.access is Access.READ:
            bucket.grant_read(function)
            actions = S3_READ_ACTIONS
        elif grant.access is Access.WRITE:
            bucket.grant_write(function)
            actions = S3_WRITE_ACTIONS
        else:
            bucket.grant_read_write(function)
            actions = S3_READ_ACTIONS + S3_WRITE_ACTIONS
        reasons = {wildcard_action(a): S3_GRANT_REASON for a in actions}
        reasons[wildcard_resource(bucket.bucket_arn, "/*", function)] = (
            f"object keys in the {grant.resource} bucket are generated per video/user"
        )
        acknowledge_all(function, reasons)

    def _grant_queue(self, grant: Grant, function: lambda_.Function) -> None:
        queue = self._storage.queues[grant.resource]
        if grant.access is Access.DESCRIBE:
            _describe(function, "sqs:GetQueueAttributes", queue.queue_arn)
            return
        if grant.access in (Access.READ, Access.READ_WRITE):
            queue.grant_consume_messages(function)  # includes GetQueueAttributes (health checks)
        if grant.access in (Access.WRITE, Access.READ_WRITE):
            queue.grant_send_messages(function)


def _describe(function: lambda_.Function, action: str, resource_arn: str) -> None:
    """Access.DESCRIBE: one read-nothing action on the resource itself."""
    function.add_to_role_policy(iam.PolicyStatement(actions=[action], resources=[resource_arn]))
