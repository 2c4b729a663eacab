"""`make openapi`: write the API's OpenAPI document to docs/openapi.json (`--check`: fail if it differs).

The document is what functions/platform/openapi.py builds from the handlers the topology routes to, so
the committed copy shows in review what a change does to the contract; tests/unit/test_openapi.py fails
when it is stale.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from infra.topology import TOPOLOGY

COMMITTED = Path(__file__).resolve().parents[1] / "docs" / "openapi.json"


def generate() -> str:
    os.environ["API_HANDLER_MODULES"] = ",".join(TOPOLOGY.api_handler_modules())
    from functions.platform import openapi

    return openapi.merged_schema_json()


def main(argv: list[str]) -> int:
    document = generate()
    if "--check" in argv:
        if not COMMITTED.exists() or COMMITTED.read_text(encoding="utf-8") != document:
            print(f"{COMMITTED} is stale: run `make openapi` and commit it", file=sys.stderr)
            return 1
        return 0
    COMMITTED.write_text(document, encoding="utf-8")
    print(f"wrote {COMMITTED}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
