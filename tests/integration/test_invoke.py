"""`python -m infra.local.invoke` as a user runs it: a subprocess, a real handler, a real sandbox."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from infra.local.cloud import LocalCloud
from infra.topology import TOPOLOGY

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
HEALTH_EVENT = str(ROOT / "events" / "apigw-rest-get-health.json")


def invoke(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "infra.local.invoke", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def assert_healthy(proc: subprocess.CompletedProcess[str]) -> None:
    assert proc.returncode == 0, proc.stderr
    response = json.loads(proc.stdout)  # stdout is the result alone; logs go to stderr
    assert response["statusCode"] == 200
    body = json.loads(response["body"])
    assert body["status"] == "ok"
    assert body["checks"]
    assert all(c["status"] == "ok" for c in body["checks"].values())
    assert "REPORT platform" in proc.stderr
    assert "Cold start: yes" in proc.stderr
    assert "Init Duration:" in proc.stderr


def test_health_event_in_a_throwaway_cloud() -> None:
    assert_healthy(invoke("platform", HEALTH_EVENT))


def test_unknown_function_exits_2_and_lists_the_ids() -> None:
    proc = invoke("no_such_function", HEALTH_EVENT)
    assert proc.returncode == 2
    assert "unknown function 'no_such_function'" in proc.stderr
    assert all(fn.id in proc.stderr for fn in TOPOLOGY.functions)
    assert proc.stdout == ""


def test_invalid_event_file_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"httpMethod": "GET",')
    proc = invoke("platform", str(bad))
    assert proc.returncode == 2
    assert "is not valid JSON" in proc.stderr


def test_endpoint_mode_runs_against_the_cloud(cloud: LocalCloud) -> None:
    assert_healthy(invoke("platform", HEALTH_EVENT, "--endpoint", cloud.aws_endpoint))


def test_a_failing_invocation_exits_1_with_the_lambda_error(cloud: LocalCloud) -> None:
    # The platform function is an API function: an SQS batch is not an event it can route.
    proc = invoke("platform", "sqs-batch.json", "--endpoint", cloud.aws_endpoint)
    assert proc.returncode == 1
    assert proc.stdout == ""
    payload = json.loads(proc.stderr[proc.stderr.index("\n{") + 1 : proc.stderr.rindex("}") + 1])
    assert payload["errorType"] == "KeyError"
    assert payload["stackTrace"]
