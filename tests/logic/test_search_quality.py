"""Quality on a fixed set of queries with known answers (bench/search_data.py): recall@5 >= 0.95 for each
class (exact, one typo, two typos in long words, prefix, multi-word), asked by a user who owns nothing."""

from __future__ import annotations

import pytest

from bench.search_data import CLASSES, Catalogue, QualityQuery, score_quality
from functions.search.documents import audience_of, document_for
from functions.search.engine import TantivyIndex
from functions.search.models import Algorithm
from functions.search.strategies import strategy_for


@pytest.fixture(scope="module")
def ranked() -> dict[QualityQuery, list[str]]:
    catalogue = Catalogue(5_000)
    index = TantivyIndex()
    with index.writing() as batch:
        for video in catalogue.videos:
            doc = document_for(video)
            if doc is not None:
                batch.upsert(doc)
    queries = catalogue.quality_set(per_class=25)
    assert len(queries) >= 100
    assert {q.kind for q in queries} == set(CLASSES)
    return {
        q: [
            h.video_id
            for h in index.search(
                index.words(q.text), strategy_for(Algorithm(q.algorithm)), audience_of("nobody"), 10
            )
        ]
        for q in queries
    }


@pytest.mark.parametrize("kind", CLASSES)
def test_recall_at_5_per_class(ranked: dict[QualityQuery, list[str]], kind: str) -> None:
    [quality] = [q for q in score_quality(ranked) if q.kind == kind]
    assert quality.queries >= 20
    assert quality.recall_at_5 >= 0.95, quality


def test_typo_queries_find_nothing_without_typo_tolerance(ranked: dict[QualityQuery, list[str]]) -> None:
    """The typo classes are real typos: the text algorithm misses them (so the figure above means something)."""
    index = TantivyIndex()
    typo_queries = [q for q in ranked if q.kind in {"one_typo", "two_typos"}]
    assert all(
        not index.search(index.words(q.text), strategy_for(Algorithm.TEXT), ["public"], 5)
        for q in typo_queries
    )
