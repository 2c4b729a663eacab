"""`python -m infra.aws.app` (what cdk.json runs) synthesizes the stack the CLI deploys."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from infra.model import ROOT

pytestmark = pytest.mark.infra


def test_module_entry_point_synthesizes(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "CDK_OUTDIR": str(tmp_path),
        "CDK_CONTEXT_JSON": json.dumps({"aws:cdk:bundling-stacks": []}),
    }
    subprocess.run(
        [sys.executable, "-m", "infra.aws.app"], cwd=ROOT, env=env, check=True, capture_output=True
    )
    templates = list(tmp_path.glob("*.template.json"))
    assert [t.name for t in templates] == ["Skyreel-prod.template.json"]
    assert json.loads(templates[0].read_text())["Resources"]


def test_cdk_json_runs_the_module() -> None:
    assert json.loads((ROOT / "cdk.json").read_text())["app"] == ".venv/bin/python -m infra.aws.app"
