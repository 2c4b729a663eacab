"""Logic depends on ports only (issue 9): importing a domain's use cases imports neither boto3 nor an
adapter. A port defined next to its boto3 adapter breaks this, as Events and MediaCache did while they
lived in functions/shared/events.py and cdn.py."""

from __future__ import annotations

import subprocess
import sys

import pytest

LOGIC = [
    "functions.videos.logic",
    "functions.auth.logic",
    "functions.transcode.pipeline",
    "functions.transcode.progress",
    "functions.analytics.viewing.logic",
]
# What only adapters import: boto3 itself, and the modules that make or wrap its clients.
ADAPTER_ONLY = ["boto3", "functions.shared.aws", "functions.shared.events", "functions.shared.cdn"]

PROBE = """
import importlib, sys
importlib.import_module(sys.argv[1])
print(",".join(m for m in sys.argv[2:] if m in sys.modules))
"""


@pytest.mark.parametrize("module", LOGIC)
def test_logic_imports_no_boto3_and_no_adapter(module: str) -> None:
    # A fresh interpreter: this process has long imported boto3 for other tests.
    loaded = subprocess.run(
        [sys.executable, "-c", PROBE, module, *ADAPTER_ONLY], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert not loaded, f"importing {module} imports {loaded}"
