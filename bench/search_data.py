"""A generated catalogue and a quality set with known answers, shared by bench/search.py and the quality
test (tests/logic/test_search_quality.py). Deterministic: the same seed gives the same videos and queries.

Words are made of syllables (3 to 13 letters), so the vocabulary is large and words of every length the
typo rules care about exist; titles have 3 to 7 words, descriptions 8 to 30, and up to 4 tags.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass

from functions.videos.models import Status, UploadRecord, VideoRecord, Visibility

SYLLABLES = [c + v for c in "bcdfghjklmnprstvz" for v in "aeiou"] + ["th", "st", "ch", "sh", "ng", "er", "an"]
CLASSES = ("exact", "one_typo", "two_typos", "prefix", "multi_word")


@dataclass(frozen=True)
class QualityQuery:
    kind: str
    text: str
    answer: str  # the video id the query is about
    algorithm: str


class Catalogue:
    def __init__(self, size: int, seed: int = 7, vocabulary: int | None = None, owners: int = 1_000) -> None:
        self.rng = random.Random(seed)
        # The vocabulary grows with the catalogue, as real ones do: with a fixed 20,000 words, 100,000
        # videos used every title word about 25 times, and no query could have one known answer.
        self.vocabulary = sorted(self._words(vocabulary or max(20_000, size)))
        self.owners = [f"user{n:05d}" for n in range(owners)]
        self.videos = [self._video(n) for n in range(size)]
        self.title_df = Counter(w for v in self.videos for w in set(v.title.lower().split()))

    def _words(self, count: int) -> set[str]:
        words: set[str] = set()
        while len(words) < count:
            words.add("".join(self.rng.choice(SYLLABLES) for _ in range(self.rng.randint(2, 6)))[:13])
        return {w for w in words if len(w) >= 3}

    def _phrase(self, low: int, high: int) -> list[str]:
        return [self.rng.choice(self.vocabulary) for _ in range(self.rng.randint(low, high))]

    def _video(self, n: int) -> VideoRecord:
        roll = self.rng.random()
        visibility, status = (
            (Visibility.PUBLIC, Status.READY)
            if roll < 0.6
            else (Visibility.PRIVATE, Status.READY)
            if roll < 0.8
            else (Visibility.UNLISTED, Status.READY)
            if roll < 0.9
            else (Visibility.PUBLIC, Status.PROCESSING)
        )
        title = self._phrase(3, 7)
        title[0] = title[0].capitalize()
        vid = f"vid{n:07d}"
        return VideoRecord(
            id=vid,
            owner_id=self.rng.choice(self.owners),
            title=" ".join(title),
            description=" ".join(self._phrase(8, 30)) + ".",
            tags=sorted(set(self._phrase(0, 4))),
            visibility=visibility,
            status=status,
            upload=UploadRecord(
                key=f"originals/{vid}/clip.mp4",
                filename="clip.mp4",
                content_type="video/mp4",
                size_bytes=1,
                method="PUT",
                expires_at=0,
            ),
            created_at="2026-11-30T00:00:00.000Z",
            updated_at="2026-11-30T00:00:00.000Z",
        )

    # --- the quality set -------------------------------------------------------------------------------

    def _typo(self, word: str, edits: int) -> str:
        """`word` with `edits` edits (substitutions or swaps of neighbours, at distinct places), not
        itself a word of the vocabulary."""
        vocabulary = set(self.vocabulary)
        while True:
            letters = list(word)
            places = self.rng.sample(range(1, len(word) - 1), edits)  # the first letter is kept, as people do
            for i in places:
                if self.rng.random() < 0.5 and letters[i] != letters[i + 1]:
                    letters[i], letters[i + 1] = letters[i + 1], letters[i]
                else:
                    letters[i] = self.rng.choice([c for c in "abcdefghijklmnopqrstuvwxyz" if c != letters[i]])
            typo = "".join(letters)
            # Two edits in neighbouring places can be one swap: keep them apart so there really are two.
            apart = edits == 1 or max(places) - min(places) > 1
            if typo != word and typo not in vocabulary and apart:
                return typo

    def quality_set(self, per_class: int = 25, seed: int = 11) -> list[QualityQuery]:
        """`per_class` queries of each class, each about one public, ready video whose title has a word no
        other title has (so the answer is known), asked by a user who does not own it."""
        rng = random.Random(seed)
        candidates = [
            v for v in self.videos if v.visibility is Visibility.PUBLIC and v.status is Status.READY
        ]
        rng.shuffle(candidates)
        queries: dict[str, list[QualityQuery]] = {kind: [] for kind in CLASSES}
        for video in candidates:
            words = video.title.lower().split()
            unique = [w for w in words if self.title_df[w] == 1]
            if not unique:
                continue
            word = max(unique, key=len)
            other = next((w for w in words if w != word), None)
            wanted = [k for k in CLASSES if len(queries[k]) < per_class]
            if not wanted:
                break
            # The first class still short of queries that this video can make a query of.
            query = next(filter(None, (self._query(k, video.id, word, other) for k in wanted)), None)
            if query is not None:
                queries[query.kind].append(query)
        return [q for kind in CLASSES for q in queries[kind]]

    def _query(self, kind: str, answer: str, word: str, other: str | None) -> QualityQuery | None:
        if kind == "exact":
            return QualityQuery(kind, word, answer, "text")
        if kind == "one_typo" and len(word) >= 5:
            return QualityQuery(kind, self._typo(word, 1), answer, "fuzzy")
        if kind == "two_typos" and len(word) >= 9:
            return QualityQuery(kind, self._typo(word, 2), answer, "fuzzy")
        if kind == "prefix" and other is not None and len(word) >= 6:
            return QualityQuery(kind, f"{other} {word[: max(4, len(word) * 2 // 3)]}", answer, "text")
        if kind == "multi_word" and other is not None:
            return QualityQuery(kind, f"{other.upper()}, {word}!", answer, "text")
        return None


@dataclass(frozen=True)
class Quality:
    kind: str
    queries: int
    recall_at_5: float
    mrr: float


def score_quality(ranked: dict[QualityQuery, list[str]]) -> list[Quality]:
    """recall@5 and mean reciprocal rank per class, from each query's ranked video ids."""
    out = []
    for kind in CLASSES:
        rows = [(q, ids) for q, ids in ranked.items() if q.kind == kind]
        if not rows:
            continue
        ranks = [ids.index(q.answer) + 1 if q.answer in ids else None for q, ids in rows]
        recall = sum(1 for r in ranks if r is not None and r <= 5) / len(rows)
        mrr = sum(1 / r for r in ranks if r is not None) / len(rows)
        out.append(Quality(kind, len(rows), round(recall, 3), round(mrr, 3)))
    return out
