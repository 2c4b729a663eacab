"""Each zip-packaged function imports with only what is deployed with it: its code and the shared layer.

A function's zip holds the `functions` package (infra/aws/compute.py, CODE_EXCLUDES); its dependencies
come from the layer, which is exactly `uv export` of the runtime dependencies (infra/aws/layer.py).
The dev environment has far more (moto, av, m3u8, the CDK...), so a handler that imports one of those
works in every test and fails in AWS. Here each handler is imported in a fresh interpreter that refuses
any top-level module that is neither the standard library, nor `functions`, nor in the layer.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from importlib.metadata import packages_distributions

import pytest

from infra.aws.layer import EXPORT
from infra.model import ROOT, Function, Packaging
from infra.topology import TOPOLOGY

pytestmark = pytest.mark.infra

ZIP_FUNCTIONS = [f for f in TOPOLOGY.functions if f.packaging is Packaging.ZIP]

# Runs in the child interpreter: a meta-path finder in front of every other one. Every zip function
# ships the same code and the same layer, so one interpreter imports them all (a module the layer lacks
# is refused whichever handler asks for it); each failure is reported by module.
CHILD = """
import importlib, importlib.machinery, json, sys, sysconfig, traceback

allowed, root, modules = json.loads(sys.argv[1])
allowed = set(allowed) | set(sys.stdlib_module_names) | {"functions"}
stdlib = (sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["platstdlib"])

def in_stdlib(name):
    # Private stdlib modules (e.g. _sysconfigdata_*) are not in stdlib_module_names.
    spec = importlib.machinery.PathFinder.find_spec(name, [p for p in sys.path if p.startswith(stdlib)])
    origin = spec.origin if spec else None
    return bool(origin) and origin.startswith(stdlib) and "site-packages" not in origin

class OnlyTheLayer:
    def find_spec(self, fullname, path=None, target=None):
        top = fullname.partition(".")[0]
        if top not in allowed and not (top == fullname and in_stdlib(top)):
            raise ModuleNotFoundError(f"No module named {top!r} in the deployed layer", name=top)
        return None

sys.meta_path.insert(0, OnlyTheLayer())
sys.path.insert(0, root)
failures = {}
for module in modules:
    try:
        if module == "<api document>":
            from functions.platform import openapi
            assert openapi.merged_schema()["paths"], "the merged document has no paths"
        else:
            importlib.import_module(module)
    except Exception:
        failures[module] = traceback.format_exc(limit=-3)
print(json.dumps(failures))
"""
API_DOCUMENT = "<api document>"


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def layer_distributions() -> set[str]:
    """The distributions the layer installs: the same `uv export` the layer's bundling runs."""
    uv = shutil.which("uv")
    command = [uv, *EXPORT[1:]] if uv else [sys.executable, "-m", *EXPORT]
    exported = subprocess.run(command, cwd=ROOT, check=True, capture_output=True, text=True).stdout
    names = set()
    for raw in exported.splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            names.add(_normalized(re.split(r"[=<>!~;\[ ]", line, maxsplit=1)[0]))
    return names


def layer_modules() -> list[str]:
    """The top-level import names the layer provides."""
    dists = layer_distributions()
    assert {"aws-lambda-powertools", "pydantic", "boto3"} <= dists, dists
    return sorted(
        top for top, owners in packages_distributions().items() if {_normalized(o) for o in owners} & dists
    )


@pytest.fixture(scope="module")
def failures() -> dict[str, str]:
    """module -> why it did not import with only the layer; the transcoder's (an image) as a control."""
    modules = [*(f.module for f in ZIP_FUNCTIONS), TOPOLOGY.function("transcode").module, API_DOCUMENT]
    # The platform function's environment: the OpenAPI merge reads which handlers serve the API from it.
    env = {"PATH": "/usr/bin:/bin", **TOPOLOGY.environment_for(TOPOLOGY.function("platform"), _Names())}
    result = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps([layer_modules(), str(ROOT), modules])],
        cwd="/",
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    found: dict[str, str] = json.loads(result.stdout.splitlines()[-1])
    return found


class _Names:
    """Names for `environment_for`: their values do not matter for an import."""

    stage = "test"

    def __getattr__(self, name: str) -> object:
        return lambda *args: f"{name}-{'-'.join(map(str, args))}"


def test_the_blocker_refuses_what_the_layer_lacks(failures: dict[str, str]) -> None:
    """Guards the tests below from passing vacuously: the transcoder (an image) needs av, not in the layer."""
    assert "in the deployed layer" in failures[TOPOLOGY.function("transcode").module]


@pytest.mark.parametrize("fn", ZIP_FUNCTIONS, ids=lambda f: f.id)
def test_each_zip_function_imports_with_only_the_layer(fn: Function, failures: dict[str, str]) -> None:
    assert fn.module not in failures, f"{fn.handler} does not import in AWS:\n{failures[fn.module]}"


def test_the_api_document_builds_with_only_the_layer(failures: dict[str, str]) -> None:
    """/openapi.json and /docs import every API handler in the platform function's sandbox."""
    assert any(r.path.endswith("/openapi.json") for r in TOPOLOGY.routes_of("platform"))
    assert API_DOCUMENT not in failures, failures[API_DOCUMENT]
