"""The API's OpenAPI document: every domain's resolver schema merged into one (powertools' OpenAPIMerge).

Each API function keeps its own resolver; here we import the handler of every function that serves a
route (API_HANDLER_MODULES, from the topology) and merge their schemas, so the document always matches
the deployed code. Only those: this function ships with the zip functions' layer, so importing another
handler (the transcoder's needs PyAV, in its image only) would fail in AWS.
"""

from __future__ import annotations

import functools
import importlib
import json
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.openapi.merge import OpenAPIMerge

# The OpenAPI machinery is imported on first use: only /openapi.json and /docs need it, and importing
# it up front would add ~100 ms to every cold start of this function.

TITLE = "Skyreel API"
VERSION = "1.0.0"
DESCRIPTION = (
    "Upload videos, get adaptive HLS streams, search and analytics. Protected routes take "
    "`Authorization: Bearer <access token>` or `X-API-Key: <key>`."
)


def api_handler_modules() -> list[str]:
    modules = os.environ.get("API_HANDLER_MODULES", "")
    if not modules:
        raise RuntimeError(
            "API_HANDLER_MODULES is not set: the topology gives it to the API's document_function"
        )
    return modules.split(",")


def api_resolvers(modules: Sequence[str]) -> dict[str, APIGatewayRestResolver]:
    """The resolver of each handler module that has one, by module (a handler answering raw proxy events
    has no schema to merge; tests/unit/test_topology.py checks that every shipped one has a resolver)."""
    resolvers = {}
    for module in modules:
        app = getattr(importlib.import_module(module), "app", None)
        if isinstance(app, APIGatewayRestResolver):
            resolvers[module] = app
    return resolvers


@functools.cache
def _merge() -> OpenAPIMerge:
    from aws_lambda_powertools.event_handler.openapi.merge import OpenAPIMerge
    from aws_lambda_powertools.event_handler.openapi.models import Server

    from functions.shared.contract import SECURITY_SCHEMES

    schemes: Any = SECURITY_SCHEMES  # powertools types them as its own models; it takes their JSON form
    merge = OpenAPIMerge(
        title=TITLE,
        version=VERSION,
        description=DESCRIPTION,
        servers=[Server(url="/")],
        on_conflict="error",
        security_schemes=schemes,
    )
    for app in api_resolvers(api_handler_modules()).values():
        schema = app.get_openapi_schema(title=TITLE, version=VERSION, security_schemes=schemes)
        merge.add_schema(schema.model_dump(by_alias=True, exclude_none=True))
    return merge


def merged_schema() -> dict[str, Any]:
    return _merge().get_openapi_schema()


def _drop_unused_schemas(document: dict[str, Any]) -> dict[str, Any]:
    """powertools adds its own 422 schemas (HTTPValidationError, ...) to every resolver's document; our
    routes document 422 as the API's error shape (functions/shared/contract.py), so nothing uses them."""
    schemas: dict[str, Any] = document.get("components", {}).get("schemas", {})
    used: set[str] = set()
    pending = [json.dumps({k: v for k, v in document.items() if k != "components"})]
    while pending:
        for name in re.findall(r'"#/components/schemas/([^"]+)"', pending.pop()):
            if name not in used and name in schemas:
                used.add(name)
                pending.append(json.dumps(schemas[name]))
    document["components"]["schemas"] = {k: v for k, v in schemas.items() if k in used}
    return document


@functools.cache
def merged_schema_json() -> str:
    """The document as served and as committed in docs/openapi.json (`make openapi` writes it)."""
    document = _drop_unused_schemas(json.loads(_merge().get_openapi_json_schema()))
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


@functools.cache
def swagger_html() -> str:
    """Swagger UI with its assets inlined (no CDN fetch) and the merged document embedded."""
    from aws_lambda_powertools.event_handler.openapi import swagger_ui
    from aws_lambda_powertools.event_handler.openapi.swagger_ui.html import generate_swagger_html

    assets = Path(swagger_ui.__file__).parent
    spec = merged_schema_json().replace("</", "<\\/")  # keep the JSON from closing the script tag
    return generate_swagger_html(
        spec,
        (assets / "swagger-ui-bundle.min.js").read_text(encoding="utf-8"),
        (assets / "swagger-ui.min.css").read_text(encoding="utf-8"),
        "",
        None,
    )
