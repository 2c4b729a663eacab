"""The Skyreel stack: every construct built from the topology, wired in dependency order."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from infra.aws.api import RestApi
from infra.aws.cdn import Cdn, api_origin
from infra.aws.compute import Compute
from infra.aws.layer import dependency_layer
from infra.aws.nag import BASIC_EXECUTION, BASIC_EXECUTION_REASON, RESOURCE_STAR, acknowledge_all
from infra.aws.names import CdkResourceNames
from infra.aws.search_engine import OpenSearchCollection, search_engine
from infra.aws.secrets import Secrets
from infra.aws.storage import Storage
from infra.aws.triggers import Triggers
from infra.aws.workflows import Workflows, state_machine_arns
from infra.model import Topology

# aws-cdk-lib's singleton that applies S3 bucket notifications (its id is fixed by the library).
BUCKET_NOTIFICATIONS_HANDLER = "BucketNotificationsHandler050a0587b7544547bf325f094a3db834"


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
        self.storage = Storage(self, "Storage", topology=topology)
        engine = search_engine(self)
        # The OpenSearch client (the `opensearch` extra) is in the layer only when it is used.
        layer = dependency_layer(
            self, "DependencyLayer", extras=("opensearch",) if engine == "opensearch" else ()
        )
        self.secrets = Secrets(self, "Secrets", topology=topology, layer=layer)
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
        Triggers(
            self,
            "Triggers",
            topology=topology,
            storage=self.storage,
            functions=self.compute.functions,
            state_machines=self.workflows.state_machines,
        )
        self.cdn = self._cdn()
        if self.cdn is not None:
            # Playback URLs are built from this configured domain, never from a request's headers.
            names.cdn_url_value.value = f"https://{self.cdn.distribution.distribution_domain_name}"
            names.cdn_distribution_id_value.value = self.cdn.distribution.distribution_id
            for function_id in topology.media.invalidators if topology.media else ():
                self.cdn.distribution.grant_create_invalidation(self.compute.functions[function_id])
        self._outputs()
        self._acknowledge_library_handlers()

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

    def _outputs(self) -> None:
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
