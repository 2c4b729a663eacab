"""CDK entry point: `python -m infra.aws.app` (what cdk.json runs) synthesizes the Skyreel stack.

`build_app` is what tests call: same context as the CLI (cdk.json), optionally a different topology.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from aws_cdk import App, Environment, Validations
from cdk_nag import AwsSolutionsChecks

from infra.aws.stack import SkyreelStack
from infra.aws.stage import DEFAULT_STAGE
from infra.model import ROOT, Topology
from infra.topology import TOPOLOGY

__all__ = ["DEFAULT_STAGE", "build_app", "cdk_json_context", "main"]


def cdk_json_context(root: Path = ROOT) -> dict[str, Any]:
    """cdk.json's context, so an app built by tests sees the same feature flags as `cdk synth`."""
    path = root / "cdk.json"
    context: dict[str, Any] = json.loads(path.read_text()).get("context", {}) if path.exists() else {}
    return context


def _bundling_override(context: dict[str, Any]) -> dict[str, Any]:
    """`-c skyreel:bundling=false` skips asset bundling (the CLI refuses `aws:` keys from users).

    Applied after the CLI's own context, which otherwise asks to bundle every stack.
    """
    cli_context = json.loads(os.environ.get("CDK_CONTEXT_JSON", "{}"))
    if str({**context, **cli_context}.get("skyreel:bundling", "true")).lower() == "false":
        return {"aws:cdk:bundling-stacks": []}
    return {}


def build_app(
    context: dict[str, Any] | None = None, topology: Topology = TOPOLOGY, source_root: Path = ROOT
) -> App:
    merged = {**cdk_json_context(), **(context or {})}
    app = App(context=merged, post_cli_context=_bundling_override(merged))
    # `-c stage=dev` (docs/deploy.md); `skyreel:stage` (cdk.json's default) is the older spelling.
    stage = str(
        app.node.try_get_context("stage") or app.node.try_get_context("skyreel:stage") or DEFAULT_STAGE
    )
    SkyreelStack(
        app,
        f"Skyreel-{stage}",
        topology=topology,
        stage=stage,
        source_root=source_root,
        # Env-agnostic unless the CLI resolved an account/region (it sets these from the profile).
        env=Environment(
            account=os.environ.get("CDK_DEFAULT_ACCOUNT"), region=os.environ.get("CDK_DEFAULT_REGION")
        ),
    )
    # Errors fail `cdk synth`; every accepted finding is acknowledged with its reason in the code.
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app


def main() -> None:
    build_app().synth()


if __name__ == "__main__":
    main()
