"""The search option for when one embedded index is outgrown (docs/search.md): an OpenSearch Serverless
collection, fed by the same indexer from the same videos stream, answering the same search functions.

`cdk deploy -c skyreel:search=opensearch`. Which functions read and which one writes comes from the
topology: every function granted the search index bucket reads the collection, and the one that may
write the bucket (the indexer) writes it. The functions switch adapters by their environment
(`SEARCH_ENGINE`, `OPENSEARCH_ENDPOINT`: functions/search/settings.py). The index bucket stays: it is
where a later switch back rebuilds to.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_opensearchserverless as aoss
from constructs import Construct

from infra.model import Access, Topology

SEARCH_ENGINE_CONTEXT = "skyreel:search"
ENGINES = ("embedded", "opensearch")
INDEX_BUCKET = "search_index"
INDEX = "videos"
READ = ("aoss:DescribeIndex", "aoss:ReadDocument")
WRITE = (*READ, "aoss:CreateIndex", "aoss:DeleteIndex", "aoss:UpdateIndex", "aoss:WriteDocument")


def search_engine(scope: Construct) -> str:
    engine = str(scope.node.try_get_context(SEARCH_ENGINE_CONTEXT) or "embedded")
    if engine not in ENGINES:
        raise ValueError(f"-c {SEARCH_ENGINE_CONTEXT}={engine}: expected one of {', '.join(ENGINES)}")
    return engine


def index_users(topology: Topology) -> tuple[list[str], list[str]]:
    """(readers, writers): the functions granted reading or writing the search index bucket (a probe's
    DESCRIBE grant is neither)."""
    readers: list[str] = []
    writers: list[str] = []
    for fn in topology.functions:
        for grant in fn.buckets:
            if grant.resource != INDEX_BUCKET or grant.access is Access.DESCRIBE:
                continue
            (readers if grant.access is Access.READ else writers).append(fn.id)
    return readers, writers


class OpenSearchCollection(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        topology: Topology,
        functions: Mapping[str, lambda_.Function],
        stage: str,
    ) -> None:
        super().__init__(scope, construct_id)
        # Collection and policy names: 3-32 characters, lowercase letters, digits and hyphens.
        name = f"skyreel-{stage}".lower()[:32]
        stack = Stack.of(self)
        resource = [f"collection/{name}"]
        encryption = aoss.CfnSecurityPolicy(
            self,
            "Encryption",
            name=f"{name}-enc"[:32],
            type="encryption",
            policy=stack.to_json_string(
                {"Rules": [{"ResourceType": "collection", "Resource": resource}], "AWSOwnedKey": True}
            ),
        )
        # Lambda functions outside a VPC reach the collection's public endpoint; every request is still
        # SigV4-signed and allowed only by the data access policy below.
        network = aoss.CfnSecurityPolicy(
            self,
            "Network",
            name=f"{name}-net"[:32],
            type="network",
            policy=stack.to_json_string(
                [
                    {
                        "Rules": [
                            {"ResourceType": "collection", "Resource": resource},
                            {"ResourceType": "dashboard", "Resource": resource},
                        ],
                        "AllowFromPublic": True,
                    }
                ]
            ),
        )
        self.collection = aoss.CfnCollection(
            self,
            "Collection",
            name=name,
            type="SEARCH",
            description="Skyreel search: the videos index, fed from the videos table's stream",
            # Production keeps a standby replica in another AZ; dev halves the minimum OCUs.
            standby_replicas="ENABLED" if stage == "prod" else "DISABLED",
        )
        self.collection.add_dependency(encryption)
        self.collection.add_dependency(network)

        readers, writers = index_users(topology)
        rules = []
        for ids, permissions in ((readers, READ), (writers, WRITE)):
            if not ids:
                continue
            rules.append(
                {
                    "Rules": [
                        {
                            "ResourceType": "index",
                            "Resource": [f"index/{name}/*"],
                            "Permission": list(permissions),
                        }
                    ],
                    "Principal": [role.role_arn for i in ids if (role := functions[i].role) is not None],
                }
            )
        aoss.CfnAccessPolicy(
            self, "DataAccess", name=f"{name}-data"[:32], type="data", policy=stack.to_json_string(rules)
        )

        for function_id in (*readers, *writers):
            function = functions[function_id]
            function.add_to_role_policy(
                iam.PolicyStatement(actions=["aoss:APIAccessAll"], resources=[self.collection.attr_arn])
            )
            function.add_environment("SEARCH_ENGINE", "opensearch")
            function.add_environment("OPENSEARCH_ENDPOINT", self.collection.attr_collection_endpoint)
            function.add_environment("OPENSEARCH_INDEX", INDEX)
