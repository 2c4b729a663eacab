"""The OpenSearch adapter: `SearchIndex` and `IndexUpdates` over an OpenSearch index, for when one
embedded index is outgrown (docs/search.md). The same strategies, folding and highlighter as the
embedded index: each word form becomes a `term`, `prefix` or `fuzzy` clause with the field's boost,
and visibility is a `terms` filter on `audience` inside the query.

Chosen by settings (`SEARCH_ENGINE=opensearch`, which the CDK app sets with `-c skyreel:search=opensearch`,
deploying an OpenSearch Serverless collection: infra/aws/search_engine.py). `connect` builds the client
(opensearch-py, the `opensearch` extra, signed with the function's role); tests drive the adapter
through opensearch-py with a recorded transport.

Difference from the embedded index: OpenSearch has no typo-tolerant prefix query, so the last word of a
`fuzzy` query is matched as a prefix and, separately, with typos (not both at once).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from functions.search.engine import FIELD_WEIGHTS, MAX_WORD_BYTES, Highlighter, analyzer
from functions.search.models import Change, Field_, SearchDocument, SearchHit
from functions.search.strategies import Strategy, WordForm

# The index's settings and mapping: words cut on anything not a letter or digit, lowercased and folded
# to ASCII, long ones dropped, as functions/search/engine.py folds them.
INDEX_BODY: dict[str, Any] = {
    "settings": {
        "analysis": {
            "tokenizer": {"words": {"type": "pattern", "pattern": "[^\\p{L}\\p{N}]+"}},
            "filter": {"not_too_long": {"type": "length", "max": MAX_WORD_BYTES}},
            "analyzer": {
                "folded": {
                    "type": "custom",
                    "tokenizer": "words",
                    "filter": ["lowercase", "asciifolding", "not_too_long"],
                }
            },
        }
    },
    "mappings": {
        "properties": {
            **{field.value: {"type": "text", "analyzer": "folded"} for field in Field_},
            "audience": {"type": "keyword"},
            "version": {"type": "long"},
        }
    },
}


def _clause(field: Field_, form: WordForm, boost: float) -> dict[str, Any]:
    if form.exact:
        return {"term": {field.value: {"value": form.word, "boost": boost}}}
    if form.distance == 0:
        return {"prefix": {field.value: {"value": form.word, "boost": boost}}}
    return {
        "fuzzy": {
            field.value: {
                "value": form.word,
                "fuzziness": form.distance,
                "transpositions": True,
                "prefix_length": 0,
                "boost": boost,
            }
        }
    }


def query_body(
    words: Sequence[str], strategy: Strategy, audience: Sequence[str], limit: int
) -> dict[str, Any]:
    must = []
    for i, word in enumerate(words):
        forms = strategy.forms(word, last=i == len(words) - 1)
        should = [
            _clause(field, form, weight * form.weight)
            for field, weight in FIELD_WEIGHTS.items()
            for form in forms
            if form.searches(field)
        ]
        must.append({"bool": {"should": should, "minimum_should_match": 1}})
    return {
        "size": limit,
        "track_total_hits": False,
        "_source": [field.value for field in Field_],
        "query": {"bool": {"must": must, "filter": [{"terms": {"audience": list(audience)}}]}},
    }


def connect(endpoint: str, region: str) -> Any:
    """An opensearch-py client for an OpenSearch Serverless collection endpoint, every request signed
    (SigV4, service `aoss`) with the function's own credentials."""
    import boto3
    from opensearchpy import AWSV4SignerAuth, OpenSearch, RequestsHttpConnection

    credentials = boto3.Session().get_credentials()
    host = endpoint.removeprefix("https://").rstrip("/")
    return OpenSearch(
        hosts=[{"host": host, "port": 443}],
        http_auth=AWSV4SignerAuth(credentials, region, "aoss"),
        use_ssl=True,
        verify_certs=True,
        connection_class=RequestsHttpConnection,
        timeout=10,
    )


class OpenSearchIndex:
    """`SearchIndex` and `IndexUpdates` over one OpenSearch index.

    `refresh`: ask for each write to be searchable before it returns (self-managed OpenSearch); a
    Serverless collection makes writes searchable on its own schedule, so the wiring passes False.
    """

    def __init__(self, client: Any, index: str, refresh: bool = True) -> None:
        self.client = client
        self.index = index
        self.refresh = refresh
        self._analyzer = analyzer()
        self.highlighter = Highlighter(self.words)

    def words(self, text: str) -> list[str]:
        return list(self._analyzer.analyze(text))

    def search(
        self, words: Sequence[str], strategy: Strategy, audience: Sequence[str], limit: int
    ) -> list[SearchHit]:
        forms = [f for i, w in enumerate(words) for f in strategy.forms(w, last=i == len(words) - 1)]
        response = self.client.search(index=self.index, body=query_body(words, strategy, audience, limit))
        hits = []
        for hit in response["hits"]["hits"]:
            source = hit["_source"]
            texts = {field: _texts(source.get(field.value)) for field in Field_}
            hits.append(
                SearchHit(
                    video_id=hit["_id"],
                    title=str(source.get("title", "")),
                    score=round(float(hit["_score"]), 4),
                    highlights=self.highlighter.highlights(texts, forms),
                )
            )
        return hits

    def visible(self, video_ids: Sequence[str], audience: Sequence[str]) -> set[str]:
        if not video_ids:
            return set()
        body = {
            "size": len(video_ids),
            "_source": False,
            "query": {
                "bool": {
                    "filter": [{"ids": {"values": list(video_ids)}}, {"terms": {"audience": list(audience)}}]
                }
            },
        }
        response = self.client.search(index=self.index, body=body)
        return {str(hit["_id"]) for hit in response["hits"]["hits"]}

    # --- IndexUpdates ------------------------------------------------------------------------------

    def apply(self, changes: Sequence[Change]) -> int:
        if changes:
            self._bulk(_actions(self.index, changes))
        return self._count()

    def ensure_index(self) -> None:
        """Create the index with its analysis settings and mapping unless it exists (the writer's start)."""
        if not self.client.indices.exists(index=self.index):
            self.client.indices.create(index=self.index, body=INDEX_BODY)

    def replace_all(self, documents: Iterable[SearchDocument]) -> int:
        # Drop and re-create rather than delete-by-query: both self-managed and Serverless take it.
        self.client.indices.delete(index=self.index, ignore_unavailable=True)
        self.client.indices.create(index=self.index, body=INDEX_BODY)
        self._bulk(_actions(self.index, [Change(video_id=d.video_id, document=d) for d in documents]))
        return self._count()

    def _bulk(self, actions: list[dict[str, Any]]) -> None:
        response = self.client.bulk(body=actions, **({"refresh": True} if self.refresh else {}))
        if response.get("errors"):
            failed = [item for item in response["items"] if next(iter(item.values())).get("error")]
            raise RuntimeError(f"OpenSearch refused {len(failed)} of {len(response['items'])} changes")

    def _count(self) -> int:
        return int(self.client.count(index=self.index)["count"])


class FixedIndex:
    """`IndexSource` for an index served elsewhere: there is no local copy to reload."""

    def __init__(self, index: OpenSearchIndex) -> None:
        self.index = index

    def current(self) -> OpenSearchIndex:
        return self.index


def _texts(value: object) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _actions(index: str, changes: Sequence[Change]) -> list[dict[str, Any]]:
    actions: list[dict[str, Any]] = []
    for change in changes:
        if change.document is None:
            actions.append({"delete": {"_index": index, "_id": change.video_id}})
            continue
        doc = change.document
        actions.append({"index": {"_index": index, "_id": doc.video_id}})
        actions.append(
            {
                "title": doc.title,
                "description": doc.description,
                "tags": list(doc.tags),
                "audience": list(doc.audience),
                "version": doc.version,
            }
        )
    return actions
