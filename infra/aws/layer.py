"""The one shared dependency layer, built from uv.lock.

Local bundling (uv + pip on the host) runs first so `cdk synth` needs no Docker; Docker bundling in the
Lambda build image is the fallback. Tests skip bundling entirely with `aws:cdk:bundling-stacks=[]`.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
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


def uv_command() -> list[str] | None:
    """How to run the project's uv: `SKYREEL_UV` (what `make` passes), `uv` on the PATH, or the module of
    this or the PATH's Python (`make setup` installs uv as `python3 -m uv`, never on the PATH)."""
    if override := os.environ.get("SKYREEL_UV"):
        return shlex.split(override)
    if shutil.which("uv"):
        return ["uv"]
    for python in dict.fromkeys(p for p in (sys.executable, shutil.which("python3")) if p):
        probe = subprocess.run([python, "-m", "uv", "--version"], capture_output=True, check=False)  # noqa: S603
        if probe.returncode == 0:
            return [python, "-m", "uv"]
    return None


def with_uv(command: Sequence[str], uv: Sequence[str]) -> list[str]:
    """A command written as `uv ...` run by the uv found."""
    return [*uv, *command[1:]] if command and command[0] == "uv" else list(command)


def install_command(requirements: str, target: str, uv: Sequence[str] = ("uv",)) -> list[str]:
    pip = shutil.which("pip3") or shutil.which("pip")
    return (
        [pip, *pip_install(requirements, target)]
        if pip
        else with_uv(uv_pip_install(requirements, target), uv)
    )


@jsii.implements(ILocalBundling)
class UvLocalBundling:
    """Exports the locked runtime dependencies and installs their wheels for the Lambda platform.

    `target` is the folder inside the asset (`python` for a layer, `` for a function's own zip); `copy` are
    trees (source, folder in the asset) copied in next to the dependencies (a bundled function's code).
    """

    def __init__(
        self,
        project_dir: Path = ROOT,
        export: list[str] = EXPORT,
        *,
        exports: Sequence[list[str]] = (),
        target: str = "python",
        copy: Sequence[tuple[Path, str]] = (),
    ) -> None:
        self.project_dir = project_dir
        self.exports = list(exports) or [export]
        self.target = target
        self.copy = copy

    def try_bundle(self, output_dir: str, *, image: DockerImage, **_options: Any) -> bool:
        uv = uv_command()
        if uv is None:
            return False  # CDK falls back to Docker bundling
        target = str(Path(output_dir) / self.target)
        with tempfile.TemporaryDirectory() as work:
            for n, export_args in enumerate(self.exports):
                requirements = Path(work) / f"requirements-{n}.txt"
                export = [*with_uv(export_args, uv), "--output-file", str(requirements)]
                subprocess.run(export, cwd=self.project_dir, check=True)  # noqa: S603
                subprocess.run(install_command(str(requirements), target, uv), check=True)  # noqa: S603
        for source, folder in self.copy:
            destination = Path(output_dir) / folder
            if source.is_dir():
                shutil.copytree(source, destination, ignore=COPY_IGNORE, dirs_exist_ok=True)
            else:
                destination.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, destination)
        return True


COPY_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "tests", "Dockerfile", ".*_cache")


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


# --- bundled packaging (LocalStack) ------------------------------------------------------------------
# `-c skyreel:packaging=bundled` folds the dependencies into each zip function's own asset instead of the
# shared layer: LocalStack's free tier ignores layers. `layer` (the default) is what AWS gets.
PACKAGING_CONTEXT = "skyreel:packaging"
LAYER, BUNDLED = "layer", "bundled"


def packaging_of(scope: Construct) -> str:
    value = str(scope.node.try_get_context(PACKAGING_CONTEXT) or LAYER)
    if value not in (LAYER, BUNDLED):
        raise ValueError(f"-c {PACKAGING_CONTEXT}={value}: give {LAYER} or {BUNDLED}")
    return value


def bundled_docker_command(exports: Sequence[list[str]], files: Sequence[str]) -> list[str]:
    """The Docker fallback of a bundled asset: the files, then every export installed next to them."""
    steps = [
        "cd /asset-input",
        "cp -r --parents " + " ".join(shlex.quote(f) for f in files) + " /asset-output/",
        "python -m pip install --quiet --target /tmp/uv uv",
    ]
    for n, export in enumerate(exports):
        requirements = f"/tmp/requirements-{n}.txt"  # noqa: S108
        steps.append("PYTHONPATH=/tmp/uv python -m " + " ".join(export) + f" --output-file {requirements}")
        steps.append("python -m pip " + " ".join(pip_install(requirements, "/asset-output")))
    return ["bash", "-c", " && ".join(steps)]


def bundled_code(
    source_root: Path, files: Sequence[str], exports: Sequence[list[str]], exclude: list[str]
) -> lambda_.Code:
    """A zip function's code with its dependencies inside: `files` (paths under `source_root`) plus the
    wheels of `exports` (exports of uv.lock, which is always this repository's)."""
    return lambda_.Code.from_asset(
        str(source_root),
        exclude=[*exclude, "!pyproject.toml", "!uv.lock"],
        bundling=BundlingOptions(
            image=RUNTIME.bundling_image,
            platform="linux/arm64",
            command=bundled_docker_command(exports, files),
            environment={"HOME": "/tmp"},  # noqa: S108
            local=UvLocalBundling(exports=exports, target="", copy=[(source_root / f, f) for f in files]),
        ),
    )
