"""The topology and the code agree: every declared handler imports, every served route is declared."""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
import re

import pytest
from aws_lambda_powertools.event_handler import APIGatewayRestResolver

import functions
from functions.platform.openapi import api_resolvers
from functions.shared.plans import DEFAULT_PLAN, STORAGE_QUOTAS
from infra.model import Api, Auth, Function, Grant, Route, Table, Topology
from infra.topology import TOPOLOGY


@pytest.mark.parametrize("fn", TOPOLOGY.functions, ids=lambda f: f.id)
def test_every_declared_handler_imports(fn: Function) -> None:
    module = importlib.import_module(fn.module)
    assert callable(getattr(module, fn.attribute)), f"{fn.handler} is not callable"


def _served_routes(function: Function) -> set[tuple[str, str]]:
    app = importlib.import_module(function.module).app
    return {(r.method, r.openapi_path) for r in app._static_routes + app._dynamic_routes}


@pytest.mark.parametrize(
    "fn", [f for f in TOPOLOGY.functions if TOPOLOGY.routes_of(f.id)], ids=lambda f: f.id
)
def test_routes_served_and_declared_match(fn: Function) -> None:
    declared = {(r.method, r.path) for r in TOPOLOGY.routes_of(fn.id)}
    served = _served_routes(fn)
    assert served - declared == set(), "served by the handler but not declared in the topology"
    assert declared - served == set(), "declared in the topology but not served by the handler"


def test_every_http_resolver_belongs_to_a_declared_function() -> None:
    """Every domain handler with a resolver serves declared routes (so the API document includes it)."""
    served = set()
    # functions/<domain>/handler.py, and a domain's subpackages' (functions/analytics/viewing/handler.py)
    for found in pkgutil.walk_packages(functions.__path__, "functions."):
        module = f"{found.name}.handler"
        imports = found.ispkg and importlib.util.find_spec(module) is not None
        if imports and isinstance(
            getattr(importlib.import_module(module), "app", None), APIGatewayRestResolver
        ):
            served.add(module)
    assert served == set(TOPOLOGY.api_handler_modules())
    assert set(api_resolvers(TOPOLOGY.api_handler_modules())) == served


def test_the_document_function_is_told_which_handlers_serve_the_api() -> None:
    document = TOPOLOGY.api.document_function
    assert document is not None
    env = TOPOLOGY.environment_for(TOPOLOGY.function(document), _FakeNames())  # type: ignore[arg-type]
    assert env["API_HANDLER_MODULES"].split(",") == TOPOLOGY.api_handler_modules()
    assert "functions.transcode.handler" not in env["API_HANDLER_MODULES"]
    others = [f for f in TOPOLOGY.functions if f.id != document]
    assert not [f.id for f in others if "API_HANDLER_MODULES" in TOPOLOGY.environment_for(f, _FakeNames())]  # type: ignore[arg-type]


def test_unknown_references_are_refused() -> None:
    fn = Function(id="a", handler="functions.platform.handler.lambda_handler", description="")
    with pytest.raises(ValueError, match="unknown function"):
        Topology(
            name="t",
            functions=(fn,),
            api=Api(name="x", routes=(Route("GET", "/api/x", "nope", Auth.PUBLIC),)),
        )
    with pytest.raises(ValueError, match="authorizer"):
        Topology(name="t", functions=(fn,), api=Api(name="x", routes=(Route("GET", "/api/x", "a"),)))
    with pytest.raises(KeyError, match="table"):
        Topology(
            name="t",
            api=Api(name="x", routes=()),
            functions=(Function(id="b", handler="m.h", description="", tables=(Grant("nope"),)),),
        )


def test_duplicate_ids_are_refused() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        Topology(name="t", functions=(), api=Api(name="x", routes=()), tables=(Table("a"), Table("a")))


@pytest.mark.parametrize(
    ("path", "url", "params"),
    [
        ("/api/v1/videos/{id}", "/api/v1/videos/abc", {"id": "abc"}),
        ("/api/v1/videos/{id}", "/api/v1/videos/abc/more", None),
        ("/api/{proxy+}", "/api/a/b/c", {"proxy": "a/b/c"}),
        ("/.well-known/jwks.json", "/.well-known/jwksXjson", None),
    ],
)
def test_route_patterns(path: str, url: str, params: dict[str, str] | None) -> None:
    found = Route("GET", path, "f").regex().match(url)
    assert (found.groupdict() if found else None) == params


class _FakeNames:
    stage = "test"

    def __getattr__(self, name: str) -> object:
        return lambda *args: f"{name}-{'-'.join(map(str, args))}"


def test_environment_names_every_granted_resource() -> None:
    class Names:
        stage = "test"

        def table(self, i: str) -> str:
            return f"t-{i}"

        def bucket(self, i: str) -> str:
            return f"b-{i}"

        def queue_url(self, i: str) -> str:
            return f"q-{i}"

        def bus(self, i: str) -> str:
            return f"e-{i}"

        def secret(self, i: str) -> str:
            return f"s-{i}"

        def state_machine_arn(self, i: str) -> str:
            return f"m-{i}"

    env = TOPOLOGY.environment_for(TOPOLOGY.function("platform"), Names())  # type: ignore[arg-type]
    assert env["VIDEOS_TABLE_NAME"] == "t-videos"
    assert env["MEDIA_BUCKET_NAME"] == "b-media"
    assert env["INGEST_QUEUE_URL"] == "q-ingest"
    assert env["POWERTOOLS_SERVICE_NAME"] == "skyreel-platform"
    assert all(re.fullmatch(r"[A-Z0-9_]+", k) for k in env)


def test_every_plan_is_both_metered_and_given_a_storage_quota() -> None:
    """One plan catalogue: a plan the authorizer can name has a usage plan (requests) and a storage quota
    (videos), and the default plan is the API's default usage plan."""
    assert [p.id for p in TOPOLOGY.api.usage_plans] == list(STORAGE_QUOTAS)
    assert TOPOLOGY.api.usage_plans[0].id == DEFAULT_PLAN
