"""The one shared dependency layer, built from uv.lock.

Local bundling (uv + pip on the host) runs first so `cdk synth` needs no Docker; Docker bundling in the
Lambda build image is the fallback. Tests skip bundling entirely with `aws:cdk:bundling-stacks=[]`.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.model import ROOT

RUNTIME = lambda_.Runtime.PYTHON_3_12
# Graviton: about 20% cheaper per GB-second than x86 with equal or better speed for Python and FFmpeg,
# and every dependency in uv.lock publishes manylinux aarch64 wheels.
ARCHITECTURE = lambda_.Architecture.ARM_64
PIP_PLATFORM = "manylinux2014_aarch64"
UV_PLATFORM = "aarch64-manylinux2014"
PYTHON_VERSION = "3.12"
# No colour: the CDK CLI forces it on, and ANSI codes in requirements.txt break pip.
EXPORT = [
    "uv",
    "export",
    "--frozen",
    "--no-dev",
    "--no-emit-project",
    "--no-hashes",
    "--color",
    "never",
    "--quiet",
]


def pip_install(requirements: str, target: str) -> list[str]:
    return [
        "install",
        "--target",
        target,
        "--platform",
        PIP_PLATFORM,
        "--python-version",
        PYTHON_VERSION,
        "--implementation",
        "cp",
        "--only-binary=:all:",
        "--no-compile",
        "-r",
        requirements,
    ]


def uv_pip_install(requirements: str, target: str) -> list[str]:
    """The same install through `uv pip`, for hosts (like uv-made venvs) without pip."""
    return [
        "uv",
        "pip",
        "install",
        "--target",
        target,
        "--python-platform",
        UV_PLATFORM,
        "--python-version",
        PYTHON_VERSION,
        "--only-binary",
        ":all:",
        "-r",
        requirements,
    ]


def install_command(requirements: str, target: str) -> list[str]:
    pip = shutil.which("pip3") or shutil.which("pip")
    return [pip, *pip_install(requirements, target)] if pip else uv_pip_install(requirements, target)


@jsii.implements(ILocalBundling)
class UvLocalBundling:
    """Exports the locked runtime dependencies and installs their wheels for the Lambda platform."""

    def __init__(self, project_dir: Path = ROOT, export: list[str] = EXPORT) -> None:
        self.project_dir = project_dir
        self.export = export

    def try_bundle(self, output_dir: str, *, image: DockerImage, **_options: Any) -> bool:
        if shutil.which("uv") is None:
            return False  # CDK falls back to Docker bundling
        with tempfile.TemporaryDirectory() as work:
            requirements = Path(work) / "requirements.txt"
            export = [*self.export, "--output-file", str(requirements)]
            subprocess.run(export, cwd=self.project_dir, check=True)  # noqa: S603
            subprocess.run(install_command(str(requirements), f"{output_dir}/python"), check=True)  # noqa: S603
        return True


# Docker fallback in the Lambda build image, which has pip but not uv.
def docker_command(export: list[str]) -> list[str]:
    return [
        "bash",
        "-c",
        "python -m pip install --quiet --target /tmp/uv uv"
        " && PYTHONPATH=/tmp/uv python -m " + " ".join(export) + " --output-file /tmp/requirements.txt"
        " && python -m pip " + " ".join(pip_install("/tmp/requirements.txt", "/asset-output/python")),  # noqa: S108
    ]


DOCKER_COMMAND = docker_command(EXPORT)
# Only the `keygen` dependency group (awscrt, for SigV4A): the keygen resource's second layer.
KEYGEN_EXPORT = [*(arg for arg in EXPORT if arg != "--no-dev"), "--only-group", "keygen"]


def dependency_layer(
    scope: Construct, construct_id: str, extras: tuple[str, ...] = ()
) -> lambda_.LayerVersion:
    """The runtime dependencies, plus the optional ones of `extras` (e.g. `opensearch`) when a deploy
    option needs them."""
    return _locked_layer(
        scope,
        construct_id,
        "Skyreel runtime dependencies from uv.lock (powertools, pydantic, cryptography, ...)",
        [*EXPORT, *(arg for extra in extras for arg in ("--extra", extra))],
    )


def keygen_layer(scope: Construct, construct_id: str) -> lambda_.LayerVersion:
    return _locked_layer(
        scope, construct_id, "awscrt from uv.lock: SigV4A for the CloudFront KeyValueStore API", KEYGEN_EXPORT
    )


def _locked_layer(
    scope: Construct, construct_id: str, description: str, export: list[str]
) -> lambda_.LayerVersion:
    return lambda_.LayerVersion(
        scope,
        construct_id,
        description=description,
        compatible_runtimes=[RUNTIME],
        compatible_architectures=[ARCHITECTURE],
        code=lambda_.Code.from_asset(
            str(ROOT),
            # Only the lock decides the layer's content, so only the lock may change its hash.
            exclude=["*", ".*", "!pyproject.toml", "!uv.lock"],
            bundling=BundlingOptions(
                image=RUNTIME.bundling_image,
                platform="linux/arm64",
                command=docker_command(export),
                environment={"HOME": "/tmp"},  # noqa: S108 - the build container's user has no home
                local=UvLocalBundling(export=export),
            ),
        ),
    )
