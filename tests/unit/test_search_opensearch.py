"""The OpenSearch adapter driven through opensearch-py's own client, with a transport that records each
request and answers in OpenSearch's response shapes: what goes on the wire, and what comes back parsed."""

from __future__ import annotations

import json
from typing import Any, ClassVar

import pytest
from opensearchpy import Connection, OpenSearch
from pydantic import ValidationError

from functions.search import wiring
from functions.search.documents import audience_of, change_for
from functions.search.models import Algorithm, Field_
from functions.search.opensearch import INDEX_BODY, FixedIndex, OpenSearchIndex
from functions.search.replica import ReadReplica
from functions.search.settings import IndexerSettings, SearchApiSettings
from functions.search.strategies import strategy_for
from tests.search_helpers import video


class Recorded(Connection):
    """A connection that answers from `replies` (by method and path) and keeps every request."""

    requests: ClassVar[list[tuple[str, str, Any]]] = []
    query_strings: ClassVar[list[str]] = []
    # A reply is a body (status 200) or (status, body).
    replies: ClassVar[dict[tuple[str, str], Any]] = {}

    def perform_request(self, method, url, params=None, body=None, timeout=None, ignore=(), headers=None):  # type: ignore[no-untyped-def]
        path = url.split("?")[0]
        Recorded.query_strings.append("&".join(f"{k}={_text(v)}" for k, v in (params or {}).items()))
        text = body.decode() if isinstance(body, bytes) else body
        parsed = (
            [json.loads(line) for line in text.splitlines() if line]
            if text and "\n" in text.strip()
            else (json.loads(text) if text else None)
        )
        Recorded.requests.append((method, path, parsed))
        reply = Recorded.replies[(method, path)]
        status, answer = reply if isinstance(reply, tuple) else (200, reply)
        if status >= 400 and status not in ignore:
            self._raise_error(status, json.dumps(answer))
        return status, {"content-type": "application/json"}, json.dumps(answer)


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


@pytest.fixture
def index() -> OpenSearchIndex:
    Recorded.requests.clear()
    Recorded.query_strings.clear()
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


def test_visible_asks_which_ids_pass_the_callers_visibility_filter(index: OpenSearchIndex) -> None:
    Recorded.replies[("POST", "/videos/_search")] = {
        "took": 1,
        "timed_out": False,
        "hits": {"max_score": 0.0, "hits": [{"_index": "videos", "_id": "v1", "_score": 0.0}]},
    }
    assert index.visible(["v1", "v2"], audience_of("bob")) == {"v1"}
    [(_, _, body)] = Recorded.requests
    assert body["_source"] is False
    assert body["query"]["bool"]["filter"] == [
        {"ids": {"values": ["v1", "v2"]}},
        {"terms": {"audience": ["owner:bob", "public"]}},
    ]
    assert index.visible([], audience_of("bob")) == set()
    assert len(Recorded.requests) == 1  # nothing to ask about: no request


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


def test_the_writer_creates_the_index_with_its_mapping_only_when_missing(index: OpenSearchIndex) -> None:
    Recorded.replies[("HEAD", "/videos")] = (404, {})
    Recorded.replies[("PUT", "/videos")] = {"acknowledged": True}
    index.ensure_index()
    assert Recorded.requests == [("HEAD", "/videos", None), ("PUT", "/videos", INDEX_BODY)]

    Recorded.requests.clear()
    Recorded.replies[("HEAD", "/videos")] = {}
    index.ensure_index()
    assert Recorded.requests == [("HEAD", "/videos", None)]


def test_a_rebuild_recreates_the_index_then_loads_every_document(index: OpenSearchIndex) -> None:
    Recorded.replies[("DELETE", "/videos")] = {"acknowledged": True}
    Recorded.replies[("PUT", "/videos")] = {"acknowledged": True}
    Recorded.replies[("POST", "/_bulk")] = {"took": 1, "errors": False, "items": [{"index": {"_id": "v1"}}]}
    Recorded.replies[("POST", "/videos/_count")] = {"count": 1}
    count = index.replace_all([change_for("v1", video("Harbour", video_id="v1")).document])  # type: ignore[list-item]
    assert count == 1
    assert [(m, p) for m, p, _ in Recorded.requests] == [
        ("DELETE", "/videos"),
        ("PUT", "/videos"),
        ("POST", "/_bulk"),
        ("POST", "/videos/_count"),
    ]
    assert Recorded.requests[1][2] == INDEX_BODY


def test_writes_ask_for_a_refresh_unless_the_engine_refreshes_on_its_own() -> None:
    Recorded.requests.clear()
    Recorded.query_strings.clear()
    Recorded.replies.clear()
    Recorded.replies[("POST", "/_bulk")] = {"took": 1, "errors": False, "items": [{"delete": {"_id": "v1"}}]}
    Recorded.replies[("POST", "/videos/_count")] = {"count": 0}
    client = OpenSearch(hosts=[{"host": "search.example", "port": 443}], connection_class=Recorded)
    OpenSearchIndex(client, "videos").apply([change_for("v1", None)])
    OpenSearchIndex(client, "videos", refresh=False).apply([change_for("v1", None)])
    bulk_queries = [
        q for (_, p, _), q in zip(Recorded.requests, Recorded.query_strings, strict=True) if p == "/_bulk"
    ]
    assert bulk_queries == ["refresh=true", ""]


ENVIRONMENT = {
    "SEARCH_INDEX_BUCKET_NAME": "index",
    "SEARCH_TABLE_NAME": "search",
    "SEARCH_JOBS_QUEUE_URL": "https://sqs.example/q",
    "EVENTS_EVENT_BUS_NAME": "events",
    "AWS_REGION": "eu-west-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
}


def test_settings_switch_the_search_functions_to_the_collection(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    settings = SearchApiSettings.from_environment(
        {
            **ENVIRONMENT,
            "SEARCH_ENGINE": "opensearch",
            "OPENSEARCH_ENDPOINT": "https://abc.eu-west-1.aoss.amazonaws.com",
        }
    )
    source = wiring._index_source(settings)
    assert isinstance(source, FixedIndex)
    index = source.current()
    assert (index.index, index.refresh) == ("videos", False)
    [host] = index.client.transport.hosts
    assert (host["host"], host["port"]) == ("abc.eu-west-1.aoss.amazonaws.com", 443)
    assert index.client.transport.kwargs["http_auth"].service == "aoss"


def test_the_embedded_index_is_the_default() -> None:
    settings = SearchApiSettings.from_environment(ENVIRONMENT)
    assert settings.engine == "embedded"
    assert isinstance(wiring._index_source(settings), ReadReplica)


def test_opensearch_without_an_endpoint_is_refused_at_the_first_invocation() -> None:
    with pytest.raises(ValidationError, match="OPENSEARCH_ENDPOINT"):
        IndexerSettings.from_environment(
            {**ENVIRONMENT, "VIDEOS_TABLE_NAME": "v", "SEARCH_ENGINE": "opensearch"}
        )
