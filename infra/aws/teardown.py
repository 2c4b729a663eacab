"""After `cdk destroy`: what a stage left behind, by the stable names infra/aws/stage.py gives it.

    python -m infra.aws.teardown --stage dev

- A disposable stage (`dev`) should leave nothing. CloudFormation schedules a deleted secret for deletion
  (a recovery window), and a secret name pending deletion cannot be created again, so the next deploy of
  the stage would fail: its secrets are deleted for good here.
- A retained stage (`prod`) keeps its tables, buckets and secrets on purpose: they are listed, with what
  deleting them by hand takes.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field

import boto3

from infra.aws.stage import Stage


@dataclass
class Leftovers:
    tables: list[str] = field(default_factory=list)
    buckets: list[str] = field(default_factory=list)
    secrets: list[str] = field(default_factory=list)
    purged_secrets: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        return [
            *(f"table   {t}" for t in self.tables),
            *(f"bucket  {b}" for b in self.buckets),
            *(f"secret  {s}" for s in self.secrets),
            *(f"purged  {s} (was pending deletion)" for s in self.purged_secrets),
        ]


def leftovers(session: boto3.Session, stage: Stage) -> Leftovers:
    found = Leftovers()
    dynamodb = session.client("dynamodb")
    for page in dynamodb.get_paginator("list_tables").paginate():
        found.tables += [t for t in page["TableNames"] if t.startswith(f"{stage.prefix}-")]
    found.buckets = [
        b["Name"]
        for b in session.client("s3").list_buckets().get("Buckets", [])
        if b["Name"].startswith(f"{stage.prefix}-")
    ]
    secrets = session.client("secretsmanager")
    prefix = stage.secret_name("")
    listed = secrets.get_paginator("list_secrets").paginate(
        IncludePlannedDeletion=True, Filters=[{"Key": "name", "Values": [prefix]}]
    )
    for secret_page in listed:
        for secret in secret_page["SecretList"]:
            if not secret["Name"].startswith(prefix):
                continue
            if "DeletedDate" in secret and stage.disposable:
                secrets.delete_secret(SecretId=secret["ARN"], ForceDeleteWithoutRecovery=True)
                found.purged_secrets.append(secret["Name"])
            elif "DeletedDate" not in secret:
                found.secrets.append(secret["Name"])
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--stage", default="dev")
    args = parser.parse_args(argv)
    stage = Stage(args.stage)
    found = leftovers(boto3.Session(), stage)
    for line in found.lines():
        print(line)
    kept = found.tables or found.buckets or found.secrets
    if kept and stage.disposable:
        print(f"{stage.name} should leave nothing: the resources above outlived the stack")
        return 1
    if kept:
        print(
            f"{stage.name} keeps its data by design (docs/deploy.md, 'Teardown'): delete these by hand only "
            "when you mean it (tables: lift deletion protection first; buckets: empty them first)"
        )
    else:
        print(f"nothing of {stage.prefix} is left")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
