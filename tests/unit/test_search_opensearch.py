"""The OpenSearch adapter driven through opensearch-py's own client, with a transport that records each
request and answers in OpenSearch's response shapes: what goes on the wire, and what comes back parsed."""

from __future__ import annotations

import json
from typing import Any, ClassVar

import pytest
from opensearchpy import Connection, OpenSearch

from functions.search.documents import audience_of, change_for
from functions.search.models import Algorithm, Field_
from functions.search.opensearch import INDEX_BODY, OpenSearchIndex
from functions.search.strategies import strategy_for
from tests.search_helpers import video


class Recorded(Connection):
    """A connection that answers from `replies` (by method and path) and keeps every request."""

    requests: ClassVar[list[tuple[str, str, Any]]] = []
    replies: ClassVar[dict[tuple[str, str], dict[str, Any]]] = {}

    def perform_request(self, method, url, params=None, body=None, timeout=None, ignore=(), headers=None):  # type: ignore[no-untyped-def]
        path = url.split("?")[0]
        text = body.decode() if isinstance(body, bytes) else body
        parsed = (
            [json.loads(line) for line in text.splitlines() if line]
            if text and "\n" in text.strip()
            else (json.loads(text) if text else None)
        )
        Recorded.requests.append((method, path, parsed))
        return 200, {"content-type": "application/json"}, json.dumps(Recorded.replies[(method, path)])


@pytest.fixture
def index() -> OpenSearchIndex:
    Recorded.requests.clear()
    Recorded.replies.clear()
    client = OpenSearch(hosts=[{"host": "search.example", "port": 443}], connection_class=Recorded)
    return OpenSearchIndex(client, "videos")


def test_a_query_is_terms_prefixes_and_typos_per_field_with_the_visibility_filter(
    index: OpenSearchIndex,
) -> None:
    Recorded.replies[("POST", "/videos/_search")] = {
        "took": 2,
        "timed_out": False,
        "hits": {
            "max_score": 7.5,
            "hits": [
                {
                    "_index": "videos",
                    "_id": "v1",
                    "_score": 7.5,
                    "_source": {"title": "Crème Galaxy tour", "tags": ["space"], "description": "stars"},
                }
            ],
        },
    }
    hits = index.search(index.words("CRÈME galaxi"), strategy_for(Algorithm.FUZZY), audience_of("bob"), 5)
    [(method, path, body)] = Recorded.requests
    assert (method, path) == ("POST", "/videos/_search")
    assert body["size"] == 5
    query = body["query"]["bool"]
    assert query["filter"] == [{"terms": {"audience": ["owner:bob", "public"]}}]
    creme, galaxi = query["must"]
    assert {"term": {"title": {"value": "creme", "boost": 3.0}}} in creme["bool"]["should"]
    # "creme": five letters, one typo; not the last word, so no prefix.
    assert {next(iter(c)) for c in creme["bool"]["should"]} == {"term", "fuzzy"}
    kinds = {next(iter(c)) for c in galaxi["bool"]["should"]}
    assert kinds == {"term", "prefix", "fuzzy"}
    fuzzy = next(
        c["fuzzy"]["title"] for c in galaxi["bool"]["should"] if "fuzzy" in c and "title" in c["fuzzy"]
    )
    assert fuzzy == {
        "value": "galaxi",
        "fuzziness": 1,
        "transpositions": True,
        "prefix_length": 0,
        "boost": pytest.approx(0.9),
    }
    [hit] = hits
    assert (hit.video_id, hit.title, hit.score) == ("v1", "Crème Galaxy tour", 7.5)
    title = next(h for h in hit.highlights if h.field is Field_.TITLE)
    assert [title.snippet[m.start : m.end] for m in title.matches] == ["Crème", "Galaxy"]


def test_changes_are_one_bulk_request_of_index_and_delete_actions(index: OpenSearchIndex) -> None:
    Recorded.replies[("POST", "/_bulk")] = {
        "took": 3,
        "errors": False,
        "items": [
            {"index": {"_id": "v1", "status": 201}},
            {"delete": {"_id": "v2", "status": 404, "result": "not_found"}},
        ],
    }
    Recorded.replies[("POST", "/videos/_count")] = {"count": 1}
    count = index.apply(
        [change_for("v1", video("Harbour", owner="alice", video_id="v1")), change_for("v2", None)]
    )
    assert count == 1
    (_, _, bulk), _ = Recorded.requests
    assert bulk == [
        {"index": {"_index": "videos", "_id": "v1"}},
        {
            "title": "Harbour",
            "description": "",
            "tags": [],
            "audience": ["owner:alice", "public"],
            "version": 1,
        },
        {"delete": {"_index": "videos", "_id": "v2"}},
    ]


def test_a_refused_change_fails_the_batch(index: OpenSearchIndex) -> None:
    Recorded.replies[("POST", "/_bulk")] = {
        "took": 1,
        "errors": True,
        "items": [{"index": {"_id": "v1", "status": 400, "error": {"type": "mapper_parsing_exception"}}}],
    }
    with pytest.raises(RuntimeError, match="refused 1 of 1"):
        index.apply([change_for("v1", video("Harbour", video_id="v1"))])


def test_the_mapping_folds_as_the_embedded_index_does() -> None:
    analyzer = INDEX_BODY["settings"]["analysis"]["analyzer"]["folded"]
    assert analyzer["filter"] == ["lowercase", "asciifolding", "not_too_long"]
    assert INDEX_BODY["mappings"]["properties"]["audience"] == {"type": "keyword"}
