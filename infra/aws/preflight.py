"""`make deploy`'s checks before `cdk deploy`, each failing with what to do: credentials and region, the
CDK bootstrap of that account and region, Docker able to build the linux/arm64 transcode image.

    python -m infra.aws.preflight [--stage dev]

Exit status 2 and one line per problem when something is missing; nothing is changed.
"""

from __future__ import annotations

import argparse
import platform
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass

import boto3
from botocore.exceptions import BotoCoreError, ClientError

BOOTSTRAP_STACK = "CDKToolkit"
BOOTSTRAP_VERSION_PARAMETER = "/cdk-bootstrap/hnb659fds/version"  # the default qualifier's
MIN_BOOTSTRAP_VERSION = 6  # what aws-cdk-lib 2.x stacks require (they check it at deploy time)
ARM64 = "linux/arm64"


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def check_account(session: boto3.Session) -> tuple[Check, str | None, str | None]:
    region = session.region_name
    if not region:
        return (
            Check(
                "region", False, "no region: set AWS_REGION (or AWS_DEFAULT_REGION, or a profile's region)"
            ),
            None,
            None,
        )
    try:
        account = session.client("sts").get_caller_identity()["Account"]
    except (BotoCoreError, ClientError) as error:
        return (
            Check(
                "credentials",
                False,
                f"no usable AWS credentials ({error}); set AWS_PROFILE or run aws sso login",
            ),
            None,
            region,
        )
    return Check("credentials", True, f"account {account}, region {region}"), account, region


def check_bootstrap(session: boto3.Session, account: str, region: str) -> Check:
    advice = f"run: npx cdk bootstrap aws://{account}/{region}  (docs/deploy.md, 'Bootstrap')"
    try:
        session.client("cloudformation").describe_stacks(StackName=BOOTSTRAP_STACK)
        value = session.client("ssm").get_parameter(Name=BOOTSTRAP_VERSION_PARAMETER)["Parameter"]["Value"]
    except ClientError:
        return Check("bootstrap", False, f"{account}/{region} is not bootstrapped for CDK; {advice}")
    except BotoCoreError as exc:  # no network, a bad endpoint: say so, not a traceback
        return Check("bootstrap", False, f"could not ask {region} whether it is bootstrapped: {exc}")
    if int(value) < MIN_BOOTSTRAP_VERSION:
        return Check(
            "bootstrap", False, f"bootstrap version {value} is older than {MIN_BOOTSTRAP_VERSION}; {advice}"
        )
    return Check("bootstrap", True, f"CDKToolkit version {value}")


Runner = Callable[[list[str]], subprocess.CompletedProcess[str]]


def _run(command: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, check=False, timeout=60)  # noqa: S603


def check_docker(run: Runner = _run, machine: str | None = None) -> Check:
    """The transcode function is a linux/arm64 container image: CDK builds it with Docker at deploy."""
    if shutil.which("docker") is None:
        return Check(
            "docker",
            False,
            "Docker is not installed: the transcode function is a linux/arm64 container image that "
            "`cdk deploy` builds locally (install Docker Engine or Docker Desktop, with buildx)",
        )
    if run(["docker", "info"]).returncode != 0:
        return Check("docker", False, "Docker is installed but its daemon does not answer (start it)")
    if (machine or platform.machine()).lower() in {"aarch64", "arm64"}:
        return Check("docker", True, "native arm64 builds")
    builders = run(["docker", "buildx", "ls"])
    if builders.returncode != 0:
        return Check("docker", False, "docker buildx is missing: install the buildx plugin")
    if ARM64 not in builders.stdout:
        return Check(
            "docker",
            False,
            "this x86 host cannot build linux/arm64 images: register QEMU emulators with "
            "`docker run --privileged --rm tonistiigi/binfmt --install arm64`",
        )
    return Check("docker", True, "buildx can build linux/arm64 (emulated)")


def preflight(session: boto3.Session, run: Runner = _run, machine: str | None = None) -> list[Check]:
    identity, account, region = check_account(session)
    checks = [identity]
    if account and region:
        checks.append(check_bootstrap(session, account, region))
    checks.append(check_docker(run, machine))
    return checks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--stage", default="dev")
    args = parser.parse_args(argv)
    checks = preflight(boto3.Session())
    for check in checks:
        print(f"{'ok ' if check.ok else 'NO '} {check.name:<12} {check.detail}")
    if not all(c.ok for c in checks):
        print(f"fix the above, then run make deploy STAGE={args.stage} again", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
