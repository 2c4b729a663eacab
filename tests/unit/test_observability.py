"""Business metrics: what a handler's `count` becomes on stdout (CloudWatch EMF), and how the local
cloud's console shows it."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from functions.shared.observability import count, metrics, seconds
from infra.local.cloud import console_log_sink


@metrics.log_metrics
def _handler(event: dict[str, Any], context: Any) -> None:
    for name in event["counts"]:
        count(name)
    seconds("EncodeSeconds", 2.5)


def test_counted_events_are_flushed_as_one_emf_document(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)  # tests/conftest.py turns them off
    monkeypatch.setattr(metrics.provider, "namespace", "Skyreel")  # read from the environment at import
    metrics.clear_metrics()  # other tests in this process ran logic that counts without flushing
    _handler({"counts": ["SignIn", "SignIn", "SignInFailed"]}, None)
    (line,) = [out for out in capsys.readouterr().out.splitlines() if out.startswith("{")]
    emf = json.loads(line)
    (directive,) = emf["_aws"]["CloudWatchMetrics"]
    assert {m["Name"]: m["Unit"] for m in directive["Metrics"]} == {
        "SignIn": "Count",
        "SignInFailed": "Count",
        "EncodeSeconds": "Seconds",
    }
    assert emf["SignIn"] == [1.0, 1.0]
    assert emf["SignInFailed"] == [1.0]
    # Nothing is carried into the next invocation.
    _handler({"counts": ["SignIn"]}, None)
    assert json.loads(capsys.readouterr().out.strip())["SignIn"] == [1.0]


def test_the_local_console_prints_metrics_as_one_readable_line() -> None:
    out = io.StringIO()
    sink = console_log_sink(out)
    emf = {
        "_aws": {
            "Timestamp": 1,
            "CloudWatchMetrics": [
                {
                    "Namespace": "Skyreel",
                    "Dimensions": [["service"]],
                    "Metrics": [
                        {"Name": "SignIn", "Unit": "Count"},
                        {"Name": "EncodeSeconds", "Unit": "Seconds"},
                    ],
                }
            ],
        },
        "service": "auth",
        "SignIn": [1.0, 1.0],
        "EncodeSeconds": 2.5,
    }
    sink("auth", json.dumps(emf))
    assert out.getvalue() == "          auth | METRICS SignIn=1,1 EncodeSeconds=2.5\n"
