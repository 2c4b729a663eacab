"""`-c skyreel:search=opensearch`: an OpenSearch Serverless collection, fed by the indexer and read by the
search functions, each allowed only what the topology grants it on the index; nothing of it by default."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.aws.app import build_app
from infra.aws.search_engine import READ, WRITE, index_users
from infra.topology import TOPOLOGY
from tests.infra.conftest import NO_BUNDLING, Synthesized, synthesize
from tests.infra.helpers import logical_id, policy_statements, resources
from tests.infra.test_nag import findings

pytestmark = pytest.mark.infra


@pytest.fixture(scope="module")
def with_opensearch() -> Synthesized:
    return synthesize(build_app({**NO_BUNDLING, "skyreel:search": "opensearch"}), TOPOLOGY)


def test_the_default_deploys_no_collection(skyreel: Synthesized) -> None:
    assert resources(skyreel.template, "AWS::OpenSearchServerless::Collection") == {}
    for fn in resources(skyreel.template, "AWS::Lambda::Function").values():
        assert "SEARCH_ENGINE" not in fn["Properties"].get("Environment", {}).get("Variables", {})


def test_the_option_deploys_a_search_collection_with_encryption_and_network_policies(
    with_opensearch: Synthesized,
) -> None:
    template = with_opensearch.template
    [collection] = resources(template, "AWS::OpenSearchServerless::Collection").values()
    assert collection["Properties"]["Type"] == "SEARCH"
    kinds = sorted(
        p["Properties"]["Type"]
        for p in resources(template, "AWS::OpenSearchServerless::SecurityPolicy").values()
    )
    assert kinds == ["encryption", "network"]
    # The collection cannot be created before its encryption policy exists.
    assert len(collection["DependsOn"]) == 2


def _document(value: Any) -> Any:
    """A policy the template holds as JSON joined with tokens, with each role ARN as its logical id."""
    if isinstance(value, str):
        return json.loads(value)
    parts = value["Fn::Join"][1]
    return json.loads("".join(p if isinstance(p, str) else p["Fn::GetAtt"][0] for p in parts))


def test_readers_read_and_only_the_indexer_writes(with_opensearch: Synthesized) -> None:
    readers, writers = index_users(TOPOLOGY)
    assert sorted(readers) == ["search", "search_jobs_worker"]
    assert writers == ["search_indexer"]
    functions = with_opensearch.stack.compute.functions
    [policy] = resources(with_opensearch.template, "AWS::OpenSearchServerless::AccessPolicy").values()
    granted = {
        principal: set(rule["Rules"][0]["Permission"])
        for rule in _document(policy["Properties"]["Policy"])
        for principal in rule["Principal"]
    }
    role = {fid: logical_id(functions[fid].role) for fid in (*readers, *writers)}  # type: ignore[arg-type]
    assert granted == {
        **{role[fid]: set(READ) for fid in readers},
        **{role[fid]: set(WRITE) for fid in writers},
    }


def test_each_search_function_is_pointed_at_the_collection_and_may_call_it(
    with_opensearch: Synthesized,
) -> None:
    template = with_opensearch.template
    functions = with_opensearch.stack.compute.functions
    readers, writers = index_users(TOPOLOGY)
    for function_id in (*readers, *writers):
        fn_props = resources(template, "AWS::Lambda::Function")[logical_id(functions[function_id])][
            "Properties"
        ]
        variables = fn_props["Environment"]["Variables"]
        assert variables["SEARCH_ENGINE"] == "opensearch"
        assert "Fn::GetAtt" in variables["OPENSEARCH_ENDPOINT"]
        statements = policy_statements(template, logical_id(functions[function_id].role))  # type: ignore[arg-type]
        assert any(s["Action"] == "aoss:APIAccessAll" for s in statements)
    videos_fn = resources(template, "AWS::Lambda::Function")[logical_id(functions["videos"])]["Properties"]
    assert "SEARCH_ENGINE" not in videos_fn["Environment"]["Variables"]


def test_the_option_passes_cdk_nag(with_opensearch: Synthesized) -> None:
    assert findings(with_opensearch.app) == []


def test_an_unknown_engine_fails_the_synth() -> None:
    with pytest.raises(ValueError, match="skyreel:search=elastic"):
        build_app({**NO_BUNDLING, "skyreel:search": "elastic"})
