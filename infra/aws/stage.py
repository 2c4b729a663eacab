"""The deployment stage (`-c stage=dev|prod`): what teardown does to data, and the stable names of data.

`dev` is for trying things: deleting its stack deletes its tables, empties and deletes its buckets and
deletes its secrets, so a teardown leaves nothing that keeps costing. Any other stage (`prod` is the
default) retains them: deleting the stack must never delete users' videos or accounts.

Tables, buckets and secrets get fixed names made from the project and the stage, so a redeploy updates
the same resources instead of making copies, and whatever a `prod` teardown retains is found by name
(`skyreel-prod-*`), never as an orphan with a generated name. Bucket names are global, so they also carry
the account and region.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from aws_cdk import Aws, RemovalPolicy

DEFAULT_STAGE = "prod"
DISPOSABLE_STAGES = frozenset({"dev", "local"})  # whose data is deleted with the stack (local: LocalStack)
# Short: it is part of every name below. No '-': names are "<project>-<stage>-<id>", so a stage "dev-eu"
# would make "skyreel-dev-" a prefix of its names too, and dev's teardown would count them as its own.
_STAGE = re.compile(r"^[a-z][a-z0-9]{0,11}$")


@dataclass(frozen=True)
class Stage:
    name: str
    project: str = "skyreel"

    def __post_init__(self) -> None:
        if not _STAGE.match(self.name):
            raise ValueError(
                f"stage {self.name!r}: lower-case letters and digits, starting with a letter, "
                "at most 12 characters (it is part of every table, bucket and secret name)"
            )

    @property
    def disposable(self) -> bool:
        return self.name in DISPOSABLE_STAGES

    @property
    def data_removal(self) -> RemovalPolicy:
        """What a stack delete does to tables, buckets and secrets."""
        return RemovalPolicy.DESTROY if self.disposable else RemovalPolicy.RETAIN

    @property
    def prefix(self) -> str:
        return f"{self.project}-{self.name}"

    def table_name(self, table_id: str) -> str:
        return f"{self.prefix}-{table_id}"

    def bucket_name(self, bucket_id: str) -> str:
        """`skyreel-dev-uploads-<account>-<region>`: S3 names are global and allow no underscores."""
        return f"{self.prefix}-{bucket_id.replace('_', '-')}-{Aws.ACCOUNT_ID}-{Aws.REGION}"

    def secret_name(self, secret_id: str) -> str:
        return f"{self.project}/{self.name}/{secret_id}"
