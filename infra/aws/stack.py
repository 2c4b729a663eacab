"""The Skyreel stack: every construct built from the topology, wired in dependency order."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from aws_cdk import Annotations, CfnOutput, Stack, Token
from aws_cdk import aws_s3_deployment as s3deploy
from constructs import Construct

from infra.aws.api import RestApi
from infra.aws.cdn import Cdn, api_origin
from infra.aws.compute import S3_READ_ACTIONS, S3_WRITE_ACTIONS, Compute
from infra.aws.layer import LAYER, dependency_layer, packaging_of
from infra.aws.monitoring import Monitored, Monitoring
from infra.aws.nag import (
    BASIC_EXECUTION,
    BASIC_EXECUTION_REASON,
    RESOURCE_STAR,
    acknowledge_all,
    wildcard_action,
    wildcard_resource,
)
from infra.aws.names import CdkResourceNames
from infra.aws.search_engine import OpenSearchCollection, search_engine
from infra.aws.secrets import Secrets
from infra.aws.stage import Stage
from infra.aws.storage import Storage
from infra.aws.triggers import Triggers
from infra.aws.workflows import Workflows, state_machine_arns
from infra.model import Topology

# aws-cdk-lib's singleton that applies S3 bucket notifications (its id is fixed by the library).
BUCKET_NOTIFICATIONS_HANDLER = "BucketNotificationsHandler050a0587b7544547bf325f094a3db834"
# aws-cdk-lib's singletons behind `autoDeleteObjects` and `BucketDeployment` (ids fixed by the library).
AUTO_DELETE_PROVIDER = "Custom::S3AutoDeleteObjectsCustomResourceProvider"
BUCKET_DEPLOYMENT_HANDLER = (
    "Custom::CDKBucketDeployment8693BB64968944B69AAFB0CC9EB8756C"  # + memory, e.g. 512MiB
)
# The built dashboard (the web domain's `make web` writes it), relative to the source root.
WEB_DIST = "web/dist"


class SkyreelStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        topology: Topology,
        stage: str,
        source_root: Path,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            scope, construct_id, description=f"{topology.name} ({stage}): serverless video platform", **kwargs
        )
        self.topology = topology
        self.stage = Stage(stage)
        self.storage = Storage(self, "Storage", topology=topology, stage=self.stage)
        engine = search_engine(self)
        # The OpenSearch client (the `opensearch` extra) is in the layer only when it is used. Bundled
        # packaging (LocalStack) has no layer: each function's zip holds its dependencies.
        extras = ("opensearch",) if engine == "opensearch" else ()
        layer = (
            dependency_layer(self, "DependencyLayer", extras=extras) if packaging_of(self) == LAYER else None
        )
        self.secrets = Secrets(self, "Secrets", topology=topology, layer=layer, stage=self.stage)
        names = CdkResourceNames(
            stage=stage,
            tables=self.storage.tables,
            buckets=self.storage.buckets,
            queues=self.storage.queues,
            buses=self.storage.buses,
            secrets=self.secrets.secrets,
            state_machine_arns=state_machine_arns(self, topology),
            usage_plan_prefix=self.stack_name,
        )
        self.compute = Compute(
            self,
            "Compute",
            topology=topology,
            storage=self.storage,
            secrets=self.secrets,
            layer=layer,
            names=names,
            source_root=source_root,
        )
        self.workflows = Workflows(
            self, "Workflows", topology=topology, storage=self.storage, compute=self.compute
        )
        if engine == "opensearch":
            self.search = OpenSearchCollection(
                self, "Search", topology=topology, functions=self.compute.functions, stage=stage
            )
        self.api = RestApi(
            self, "Api", topology=topology, functions=self.compute.functions, buckets=self.storage.buckets
        )
        triggers = Triggers(
            self,
            "Triggers",
            topology=topology,
            storage=self.storage,
            functions=self.compute.functions,
            state_machines=self.workflows.state_machines,
        )
        self.cdn = self._cdn()
        self.web_deployment: s3deploy.BucketDeployment | None = None
        if self.cdn is not None:
            # Playback URLs are built from this configured domain, never from a request's headers.
            names.cdn_url_value.value = f"https://{self.cdn.distribution.distribution_domain_name}"
            names.cdn_distribution_id_value.value = self.cdn.distribution.distribution_id
            for function_id in topology.media.invalidators if topology.media else ():
                self.cdn.distribution.grant_create_invalidation(self.compute.functions[function_id])
            # Not in bundled packaging (LocalStack): its handler needs the AWS CLI layer, and there is no CDN.
            if packaging_of(self) == LAYER:
                self.web_deployment = self._deploy_web(source_root / WEB_DIST)
        self.monitoring = Monitoring(
            self,
            "Monitoring",
            topology=topology,
            monitored=Monitored(
                api=self.api.api,
                stage_name=self.api.stage_name,
                functions=self.compute.functions,
                dead_letter_queues={**self.storage.dead_letter_queues, **triggers.failure_queues},
                state_machines=self.workflows.state_machines,
            ),
        )
        self._outputs()
        self._acknowledge_library_handlers()

    def _deploy_web(self, dist: Path) -> s3deploy.BucketDeployment | None:
        """The built dashboard into the web bucket, and the CDN's cache of it invalidated, on every deploy."""
        if not (dist / "index.html").is_file():
            message = (
                f"{dist} has no index.html: the dashboard is not deployed (build it first: make web); "
                "the API and media work without it"
            )
            print(f"[skyreel] warning: {message}", file=sys.stderr)
            Annotations.of(self).add_info(message)
            return None
        assert self.cdn is not None
        web = next(b for b in self.topology.buckets if b.website)
        return s3deploy.BucketDeployment(
            self,
            "WebDeployment",
            sources=[s3deploy.Source.asset(str(dist))],
            destination_bucket=self.storage.buckets[web.id],
            distribution=self.cdn.distribution,
            distribution_paths=["/*"],
            prune=True,
            memory_limit=512,
        )

    def _cdn(self) -> Cdn | None:
        web = next((b for b in self.topology.buckets if b.website), None)
        if web is None:
            return None  # nothing static to serve: the API stays reachable on its own URL
        return Cdn(
            self,
            "Cdn",
            topology=self.topology,
            web_bucket=self.storage.buckets[web.id],
            buckets=dict(self.storage.buckets),
            api=api_origin(
                self.api.api.rest_api_id,
                self.region,
                self.api.stage_name,
                self.secrets.secrets[self.topology.api.origin_secret]
                if self.topology.api.origin_secret
                else None,
            ),
            log_bucket=self.storage.access_logs,
            media_key_store=self.secrets.media_key_store,
        )

    def _acknowledge_web_deployment(self, deployment: s3deploy.BucketDeployment) -> None:
        web = next(b for b in self.topology.buckets if b.website)
        bucket = self.storage.buckets[web.id]
        handler = deployment.handler_role.node.scope
        assert handler is not None
        grant = "aws-cdk-lib's BucketDeployment copies the built dashboard from the CDK asset bucket"
        acknowledge_all(
            handler,
            {
                **{wildcard_action(a): grant for a in (*S3_READ_ACTIONS, *S3_WRITE_ACTIONS)},
                **{
                    # The bootstrap asset bucket's ARN: with tokens, or with the region and partition the
                    # CLI resolved (`cdk synth`/`deploy` with a profile's region).
                    f"AwsSolutions-IAM5[Resource::arn:{partition}:s3:::cdk-hnb659fds-assets-<AWS::AccountId>-"
                    f"{region}/*]": f"{grant}: any object of the bootstrap asset bucket it is given"
                    for partition, region in (
                        ("<AWS::Partition>", "<AWS::Region>"),
                        ("aws", self.region if not Token.is_unresolved(self.region) else "<AWS::Region>"),
                    )
                },
                wildcard_resource(bucket.bucket_arn, "/*", handler): f"{grant}: every file of the web bucket "
                "(it prunes files the new build no longer has)",
            },
        )

    def _outputs(self) -> None:
        CfnOutput(
            self,
            "AlarmTopicArn",
            value=self.monitoring.topic.topic_arn,
            description="Every alarm notifies it",
        )
        CfnOutput(
            self,
            "MonitoringDashboardUrl",
            value=f"https://console.aws.amazon.com/cloudwatch/home?region={self.region}"
            f"#dashboards:name={self.stack_name}",
            description="The CloudWatch dashboard: API, routes, functions, queues, workflows, transcode",
        )
        CfnOutput(
            self, "ApiUrl", value=self.api.api.url, description="API Gateway stage URL (prefer the CDN URL)"
        )
        for bucket_id, bucket in self.storage.buckets.items():
            CfnOutput(self, f"{_pascal(bucket_id)}BucketName", value=bucket.bucket_name)
        for machine_id, machine in self.workflows.state_machines.items():
            CfnOutput(self, f"{_pascal(machine_id)}StateMachineArn", value=machine.state_machine_arn)
        if self.cdn is not None:
            CfnOutput(
                self,
                "CdnUrl",
                value=f"https://{self.cdn.distribution.distribution_domain_name}",
                description="The one public domain: web, /api/*, /media/*",
            )
            if self.secrets.media_key_store is not None:
                CfnOutput(
                    self,
                    "MediaTokenKeyStoreArn",
                    value=self.secrets.media_key_store.key_value_store_arn,
                    description="The key value store the media CloudFront Function reads playback token keys from",
                )

    def _acknowledge_library_handlers(self) -> None:
        library = "chosen by aws-cdk-lib for its own custom resource handler"
        for provider in self.node.children:
            if not provider.node.id.startswith((AUTO_DELETE_PROVIDER, BUCKET_DEPLOYMENT_HANDLER)):
                continue
            acknowledge_all(
                provider,
                {
                    BASIC_EXECUTION: BASIC_EXECUTION_REASON,
                    "AwsSolutions-L1": f"the runtime is {library}",
                    RESOURCE_STAR: f"the policy is {library}, scoped to this stack's buckets",
                },
            )
        if self.web_deployment is not None:
            self._acknowledge_web_deployment(self.web_deployment)
        handler = self.node.try_find_child(BUCKET_NOTIFICATIONS_HANDLER)
        if handler is not None:
            acknowledge_all(
                handler,
                {
                    BASIC_EXECUTION: BASIC_EXECUTION_REASON,
                    RESOURCE_STAR: "s3:PutBucketNotification is granted by aws-cdk-lib's notifications handler, "
                    "which configures buckets of this stack",
                },
            )


def _pascal(snake: str) -> str:
    return "".join(part.capitalize() for part in snake.split("_"))
