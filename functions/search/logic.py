"""Search use cases, on ports only: answer a query, keep the index in step with the catalogue, rebuild it."""

from __future__ import annotations

import time
import unicodedata
from collections.abc import Iterable, Sequence

from functions.search.documents import audience_of, document_for
from functions.search.models import MAX_QUERY_WORDS, Algorithm, Change, SearchResults
from functions.search.ports import IndexSource, IndexUpdates, VideoCatalogue
from functions.search.strategies import strategy_for
from functions.shared.errors import ValidationFailedError

_EMOJI_JOINER = "\u200d"  # a format character, but part of emoji sequences people type (👨‍👩‍👧)


def _has_control_characters(text: str) -> bool:
    """Control, format (zero-width space, bidi overrides), surrogate and private-use characters."""
    return any(unicodedata.category(ch) in {"Cc", "Cf", "Cs", "Co"} and ch != _EMOJI_JOINER for ch in text)


def check_query(text: str) -> None:
    """Refuse what no search can answer: control characters, or no letter or digit at all."""
    if _has_control_characters(text):
        raise ValidationFailedError(
            "The query contains control characters.",
            details=[{"location": "query", "message": "control characters are not allowed"}],
        )
    if not any(ch.isalnum() for ch in text):
        raise ValidationFailedError(
            "The query has no words to search: give at least one letter or digit.",
            details=[{"location": "query", "message": "no searchable words"}],
        )


class SearchService:
    def __init__(self, source: IndexSource) -> None:
        self.source = source

    def search(self, caller_id: str, text: str, algorithm: Algorithm, limit: int) -> SearchResults:
        """The caller's best matches among their own videos and others' public, ready ones.

        `text` is only ever cut into words (never read as query syntax): quotes, operators and SQL are
        just characters. A query with control characters, or with no letter or digit, is refused.
        """
        check_query(text)
        index = self.source.current()
        words = index.words(text)[:MAX_QUERY_WORDS]
        if not words:
            raise ValidationFailedError(
                "The query has no words to search: give at least one letter or digit.",
                details=[{"location": "query", "message": "no searchable words"}],
            )
        started = time.perf_counter()
        hits = index.search(words, strategy_for(algorithm), audience_of(caller_id), limit)
        took = round((time.perf_counter() - started) * 1000, 3)
        return SearchResults(results=hits, algorithm=algorithm, took_ms=took)

    def visible_to(self, caller_id: str, video_ids: Iterable[str]) -> set[str]:
        """Which of `video_ids` the caller may see now (their own, or others' public and ready ones)."""
        return self.source.current().visible(list(dict.fromkeys(video_ids)), audience_of(caller_id))


class Indexer:
    """The one writer: applies the catalogue's changes in order, and rebuilds from the catalogue."""

    def __init__(self, updates: IndexUpdates) -> None:
        self.updates = updates

    def apply(self, changes: Sequence[Change]) -> int:
        return self.updates.apply(latest_only(changes))

    def rebuild(self, catalogue: VideoCatalogue) -> int:
        documents = (document_for(video) for video in catalogue.all_videos())
        return self.updates.replace_all(d for d in documents if d is not None)


def latest_only(changes: Iterable[Change]) -> list[Change]:
    """A batch's changes with only the last one per video, in the order of those last ones."""
    last = {change.video_id: change for change in changes}
    return list(last.values())
