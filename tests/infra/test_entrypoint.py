"""`python -m infra.aws.app` (what cdk.json runs) synthesizes the stack the CLI deploys."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from infra.model import ROOT

pytestmark = pytest.mark.infra


def test_make_synth_runs_offline_through_the_pinned_cli(tmp_path: Path) -> None:
    """The command users run: the pinned npm CLI must accept what this aws-cdk-lib writes (the registry's
    3.x CLI refuses it), and the bundling switch keeps it offline and fast."""
    proc = subprocess.run(
        ["make", "--no-print-directory", "synth", f"SYNTH_OUT={tmp_path}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    templates = list(tmp_path.glob("*.template.json"))
    assert [t.name for t in templates] == ["Skyreel-prod.template.json"]
    assert json.loads(templates[0].read_text())["Resources"]
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["artifacts"]["Skyreel-prod"]["type"] == "aws:cloudformation:stack"


def test_cdk_json_runs_the_module() -> None:
    assert json.loads((ROOT / "cdk.json").read_text())["app"] == ".venv/bin/python -m infra.aws.app"
