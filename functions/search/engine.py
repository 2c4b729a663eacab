"""The embedded index: tantivy (Rust, BM25) in a directory, with Skyreel's schema and folding.

Queries are built programmatically from the strategy's word forms (functions/search/strategies.py), never
parsed from the user's text, so no character of a query is ever query syntax. The visibility filter is a
clause of the same query (a zero-scoring MUST), so the top-k cut happens after it, never before.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import tantivy

from functions.search.models import Field_, Highlight, MatchRange, SearchDocument, SearchHit
from functions.search.strategies import Strategy, WordForm

ANALYZER = "skyreel_folded"
# Title first, then tags, then description: a word in the title outweighs the same word in a description.
FIELD_WEIGHTS: dict[Field_, float] = {Field_.TITLE: 3.0, Field_.TAGS: 2.0, Field_.DESCRIPTION: 1.0}
MAX_WORD_BYTES = 40  # longer "words" (hashes, base64, pasted junk) are not indexed nor searched
WRITER_HEAP_BYTES = 32_000_000  # tantivy wants at least 15 MB per indexing thread
SNIPPET_CHARS = 160
_WORD = re.compile(r"[^\W_]+")  # what tantivy's simple tokenizer calls a word: a run of alphanumerics


def analyzer() -> tantivy.TextAnalyzer:
    """Words are runs of letters and digits, lowercased and folded to ASCII ("Café" -> "cafe")."""
    return (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
        .filter(tantivy.Filter.remove_long(MAX_WORD_BYTES + 1))
        .filter(tantivy.Filter.lowercase())
        .filter(tantivy.Filter.ascii_fold())
        .build()
    )


def schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("video_id", stored=True, tokenizer_name="raw")
    for field in Field_:
        builder.add_text_field(field.value, stored=True, tokenizer_name=ANALYZER)
    builder.add_text_field("audience", stored=False, tokenizer_name="raw")
    builder.add_unsigned_field("version", stored=True)
    return builder.build()


class TantivyIndex:
    """A tantivy index in `path` (made if absent), or in memory without one."""

    def __init__(self, path: Path | None = None) -> None:
        self.schema = schema()
        self._analyzer = analyzer()
        if path is not None:
            path.mkdir(parents=True, exist_ok=True)
        self._index = tantivy.Index(self.schema, path=None if path is None else str(path), reuse=True)
        self._index.register_tokenizer(ANALYZER, self._analyzer)
        self.highlighter = Highlighter(self.words)

    # --- words -------------------------------------------------------------------------------------

    def words(self, text: str) -> list[str]:
        """`text` cut and folded exactly as the index cuts and folds documents."""
        return list(self._analyzer.analyze(text))

    # --- writing -----------------------------------------------------------------------------------

    @contextmanager
    def writing(self) -> Iterator[_Batch]:
        """Changes made in the block are committed together at its end (or not at all if it raises)."""
        writer = self._index.writer(WRITER_HEAP_BYTES, 1)
        batch = _Batch(writer)
        try:
            yield batch
        except BaseException:
            writer.rollback()
            raise
        writer.commit()
        writer.wait_merging_threads()  # merges finish (and their files exist) before anyone copies the index
        self._index.reload()

    def count(self) -> int:
        self._index.reload()
        return int(self._index.searcher().num_docs)

    # --- searching ---------------------------------------------------------------------------------

    def search(
        self, words: Sequence[str], strategy: Strategy, audience: Sequence[str], limit: int
    ) -> list[SearchHit]:
        """The `limit` best videos matching every word (in any searched field) that `audience` may see."""
        forms = [strategy.forms(word, last=i == len(words) - 1) for i, word in enumerate(words)]
        query = tantivy.Query.boolean_query(
            [
                *((tantivy.Occur.Must, self._word_query(word_forms)) for word_forms in forms),
                (tantivy.Occur.Must, self._audience_filter(audience)),
            ]
        )
        searcher = self._index.searcher()
        hits = []
        for score, address in searcher.search(query, limit, count=False).hits:
            doc = searcher.doc(address)
            hits.append(
                SearchHit(
                    video_id=doc["video_id"][0],
                    title=doc["title"][0],
                    score=round(float(score), 4),
                    highlights=self._highlights(doc, [f for fs in forms for f in fs]),
                )
            )
        return hits

    def visible(self, video_ids: Sequence[str], audience: Sequence[str]) -> set[str]:
        """Which of `video_ids` `audience` may see now: the same filter as `search`."""
        if not video_ids:
            return set()
        query = tantivy.Query.boolean_query(
            [
                (tantivy.Occur.Must, tantivy.Query.term_set_query(self.schema, "video_id", list(video_ids))),
                (tantivy.Occur.Must, self._audience_filter(audience)),
            ]
        )
        searcher = self._index.searcher()
        found = searcher.search(query, len(video_ids), count=False).hits
        return {str(searcher.doc(address)["video_id"][0]) for _, address in found}

    def _word_query(self, forms: Iterable[WordForm]) -> tantivy.Query:
        """One query word in any field, in any of its forms; each match weighted by field and form."""
        clauses = []
        for field, field_weight in FIELD_WEIGHTS.items():
            for form in forms:
                if form.searches(field):
                    clauses.append(
                        (
                            tantivy.Occur.Should,
                            tantivy.Query.boost_query(
                                self._form_query(field, form), field_weight * form.weight
                            ),
                        )
                    )
        return tantivy.Query.boolean_query(clauses)

    def _form_query(self, field: Field_, form: WordForm) -> tantivy.Query:
        if form.exact:
            return tantivy.Query.term_query(self.schema, field.value, form.word)
        return tantivy.Query.fuzzy_term_query(
            self.schema,
            field.value,
            form.word,
            form.distance,
            transposition_cost_one=True,
            prefix=form.prefix,
        )

    def _audience_filter(self, audience: Sequence[str]) -> tantivy.Query:
        return tantivy.Query.const_score_query(
            tantivy.Query.term_set_query(self.schema, "audience", list(audience)), 0.0
        )

    def _highlights(self, doc: tantivy.Document, forms: Sequence[WordForm]) -> list[Highlight]:
        return self.highlighter.highlights({f: [str(t) for t in doc.get_all(f.value)] for f in Field_}, forms)


class Highlighter:
    """Marks the words of a result that match the query's forms, by the same rule the index matched them,
    as character ranges in plain text (any index adapter uses it: tantivy here, OpenSearch too)."""

    def __init__(self, fold: Callable[[str], list[str]]) -> None:
        self.words = fold

    def highlights(self, texts: Mapping[Field_, Sequence[str]], forms: Sequence[WordForm]) -> list[Highlight]:
        found = []
        for field in Field_:
            for text in texts.get(field, ()):
                highlight = self._highlight(field, text, forms)
                if highlight is not None:
                    found.append(highlight)
        return found

    def _highlight(self, field: Field_, text: str, forms: Sequence[WordForm]) -> Highlight | None:
        spans = [
            (match.start(), match.end())
            for match, folded in zip(_WORD.finditer(text), self._folded_words(text), strict=False)
            if any(form.searches(field) and form.matches(folded) for form in forms)
        ]
        if not spans:
            return None
        start, end = 0, len(text)
        if field is Field_.DESCRIPTION and len(text) > SNIPPET_CHARS:
            start = max(0, spans[0][0] - SNIPPET_CHARS // 4)
            end = min(len(text), start + SNIPPET_CHARS)
        matches = [MatchRange(start=s - start, end=e - start) for s, e in spans if s >= start and e <= end]
        return Highlight(field=field, snippet=text[start:end], matches=matches)

    def _folded_words(self, text: str) -> list[str]:
        """Each word of `text` folded, aligned with `_WORD`'s matches (a word too long to index stays as is)."""
        raw = [m.group() for m in _WORD.finditer(text)]
        folded = self.words(text)
        if len(folded) == len(raw):
            return folded
        return [(self.words(word) or [word])[0] for word in raw]


class _Batch:
    def __init__(self, writer: Any) -> None:
        self._writer = writer

    def upsert(self, doc: SearchDocument) -> None:
        self._writer.delete_documents_by_term("video_id", doc.video_id)
        self.add(doc)

    def add(self, doc: SearchDocument) -> None:
        """Add a document known not to be in the index (a rebuild after `clear`)."""
        self._writer.add_document(
            tantivy.Document(
                video_id=doc.video_id,
                title=doc.title,
                description=doc.description,
                tags=list(doc.tags),
                audience=list(doc.audience),
                version=doc.version,
            )
        )

    def remove(self, video_id: str) -> None:
        self._writer.delete_documents_by_term("video_id", video_id)

    def clear(self) -> None:
        self._writer.delete_all_documents()
