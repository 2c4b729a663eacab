"""Search algorithms as strategies: each says, for one query word, which forms of it match and how much
each form counts. The index adapters (tantivy in engine.py, OpenSearch in opensearch.py) translate the
forms into their own queries, and the highlighter marks words with the same rules, so an algorithm is
written once, here, as one class registered in `STRATEGIES`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from rapidfuzz.distance import OSA

from functions.search.models import Algorithm, Field_

# How much each kind of match counts against an exact one (which also scores by BM25): a typo or an
# unfinished word always ranks below the exact word in the same field. A whole word one typo away ranks
# above a longer word that merely starts one typo away (Meilisearch's exactness rule): "gavuca" means
# "gamuca" more likely than "pavucafovu". Forms add up, so a whole-word typo scores both typo weights.
PREFIX_WEIGHT = 0.5
TYPO_WEIGHT = 0.3
TYPO_PREFIX_WEIGHT = 0.15
# Where a typo may match: titles only (Meilisearch's `disableOnAttributes`, set for tags and
# descriptions). A typo match in a long description or a list of tags is weak evidence, and it is most
# of a fuzzy query's cost: at 100,000 videos typos in every field took fuzzy p95 from 5.9 ms to 16.4 ms
# with the same one-typo recall (docs/search.md, "Typos where they are signal").
TYPO_FIELDS = frozenset({Field_.TITLE})


@dataclass(frozen=True)
class WordForm:
    """A form of a query word a document's word may take to match.

    distance 0 and not prefix: the word itself (scored by BM25); otherwise a constant score times
    `weight`: words starting with it (`prefix`), or within `distance` edits of it (Damerau: a
    transposition is one edit), or both (a word starting with something within `distance` of it).
    """

    word: str
    distance: int = 0
    prefix: bool = False
    weight: float = 1.0
    fields: frozenset[Field_] = frozenset(Field_)  # the fields it may match in

    def searches(self, field: Field_) -> bool:
        return field in self.fields

    @property
    def exact(self) -> bool:
        return self.distance == 0 and not self.prefix

    def matches(self, token: str) -> bool:
        """Whether an indexed (folded) word matches this form: the highlighter's rule, the index's too."""
        if self.exact:
            return token == self.word
        if not self.prefix:
            return OSA.distance(token, self.word, score_cutoff=self.distance) <= self.distance
        if self.distance == 0:
            return token.startswith(self.word)
        lengths = range(max(1, len(self.word) - self.distance), len(self.word) + self.distance + 1)
        return any(
            OSA.distance(token[:n], self.word, score_cutoff=self.distance) <= self.distance for n in lengths
        )


class Strategy(ABC):
    algorithm: Algorithm

    @abstractmethod
    def forms(self, word: str, last: bool) -> tuple[WordForm, ...]:
        """The forms of one query word (`last`: the final word, the one a user may still be typing)."""


class TextStrategy(Strategy):
    """BM25 relevance on whole words; the last word also matches as a prefix ("galax" finds "galaxy")."""

    algorithm = Algorithm.TEXT

    def forms(self, word: str, last: bool) -> tuple[WordForm, ...]:
        exact = WordForm(word)
        return (exact, WordForm(word, prefix=True, weight=PREFIX_WEIGHT)) if last else (exact,)


def typos_allowed(word: str) -> int:
    """Meilisearch's rule: no typo under 5 characters, one from 5, two from 9."""
    return 2 if len(word) >= 9 else 1 if len(word) >= 5 else 0


class FuzzyStrategy(TextStrategy):
    """Text, plus typo tolerance (`typos_allowed`); a typo match counts less than the exact word."""

    algorithm = Algorithm.FUZZY

    def forms(self, word: str, last: bool) -> tuple[WordForm, ...]:
        typos = typos_allowed(word)
        if not typos:
            return super().forms(word, last)
        whole = WordForm(word, distance=typos, weight=TYPO_WEIGHT, fields=TYPO_FIELDS)
        started = WordForm(word, distance=typos, prefix=True, weight=TYPO_PREFIX_WEIGHT, fields=TYPO_FIELDS)
        return (*super().forms(word, last), whole, *((started,) if last else ()))


STRATEGIES: dict[Algorithm, Strategy] = {s.algorithm: s for s in (TextStrategy(), FuzzyStrategy())}


def strategy_for(algorithm: Algorithm) -> Strategy:
    return STRATEGIES[algorithm]
