"""The embedded index with its strategies: folding, field weights, prefixes, typos, visibility and
highlights, on a real tantivy index in memory (no network)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from functions.search.documents import audience_of, document_for
from functions.search.engine import TantivyIndex
from functions.search.models import Algorithm, Field_
from functions.search.strategies import STRATEGIES, WordForm, typos_allowed
from functions.videos.models import Status, VideoRecord, Visibility
from tests.search_helpers import video


def index_of(*videos: VideoRecord) -> TantivyIndex:
    index = TantivyIndex()
    with index.writing() as batch:
        for v in videos:
            doc = document_for(v)
            if doc is not None:
                batch.upsert(doc)
    return index


def ids(
    index: TantivyIndex,
    text: str,
    algorithm: Algorithm = Algorithm.TEXT,
    caller: str = "bob",
    limit: int = 10,
) -> list[str]:
    hits = index.search(index.words(text), STRATEGIES[algorithm], audience_of(caller), limit)
    return [h.video_id for h in hits]


def test_case_accents_and_punctuation_are_folded() -> None:
    index = index_of(video("Crème Brûlée, à PARIS!", video_id="creme"))
    assert ids(index, "creme brulee") == ["creme"]
    assert ids(index, "CRÈME-BRÛLÉE...paris") == ["creme"]


def test_title_outweighs_tags_which_outweigh_description() -> None:
    index = index_of(
        video("Cooking notes", description="all about pasta", video_id="in_description"),
        video("Pasta", video_id="in_title"),
        video("Cooking notes", tags=("pasta",), video_id="in_tags"),
    )
    assert ids(index, "pasta") == ["in_title", "in_tags", "in_description"]


def test_every_word_must_match_and_the_last_one_may_be_a_prefix() -> None:
    index = index_of(video("Galaxy tour", video_id="both"), video("Galaxy alone", video_id="one"))
    assert ids(index, "galaxy tour") == ["both"]
    assert ids(index, "galaxy to") == ["both"]
    assert ids(index, "gala") == ["both", "one"] or ids(index, "gala") == ["one", "both"]
    assert ids(index, "gal tour") == []  # only the last word is a prefix


def test_text_has_no_typo_tolerance_and_fuzzy_has() -> None:
    index = index_of(video("Astronomy for beginners", video_id="astro"))
    assert ids(index, "astronmy") == []
    assert ids(index, "astronmy", Algorithm.FUZZY) == ["astro"]


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ("mvie", False),  # 4 characters: short words take no typo ("movie")
        ("trian", True),  # 5 characters, one transposition: one typo
        ("trxin", True),  # 5 characters, one substitution
        ("trxxn", False),  # 5 characters, two typos
        ("galaxyes", True),  # 8 characters, one typo
        ("galxxyes", False),  # 8 characters, two typos
        ("astronmoy", True),  # 9 characters ("astronomy"), two typos
        ("asxronmxy", False),  # three typos
    ],
)
def test_typo_budget_follows_word_length(query: str, found: bool) -> None:
    index = index_of(video("train galaxies astronomy movie", video_id="v"))
    assert (ids(index, query, Algorithm.FUZZY) == ["v"]) is found


def test_typo_budget_rule() -> None:
    assert [typos_allowed("x" * n) for n in (1, 4, 5, 8, 9, 20)] == [0, 0, 1, 1, 2, 2]


def test_an_exact_match_ranks_above_a_typo_match() -> None:
    index = index_of(video("Galaxi", video_id="typo"), video("Galaxy", video_id="exact"))
    assert ids(index, "galaxy", Algorithm.FUZZY) == ["exact", "typo"]


def test_typos_match_in_titles_only_and_exact_words_everywhere() -> None:
    index = index_of(
        video("Volcano tour", video_id="title"),
        video("Hiking", description="an erupting volcano at dawn", video_id="description"),
        video("Walking", tags=("volcano",), video_id="tags"),
    )
    assert sorted(ids(index, "volcnao", Algorithm.FUZZY)) == ["title"]  # the typo: titles only
    assert sorted(ids(index, "volcano", Algorithm.FUZZY)) == ["description", "tags", "title"]
    assert sorted(ids(index, "volca", Algorithm.FUZZY)) == ["description", "tags", "title"]  # a prefix


def test_a_whole_word_one_typo_away_ranks_above_a_longer_word_starting_one_typo_away() -> None:
    # "gavuca": "gamuca" is the word with a typo; "pavucafovu" only starts one typo away from it.
    index = index_of(
        video("Pavucafovu sunrise", video_id="starts"), video("Gamuca sunrise", video_id="whole")
    )
    assert ids(index, "gavuca", Algorithm.FUZZY) == ["whole", "starts"]


def test_visibility_own_videos_whatever_their_status_others_only_public_and_ready() -> None:
    index = index_of(
        video(
            "Comet own private",
            owner="bob",
            visibility=Visibility.PRIVATE,
            status=Status.AWAITING_UPLOAD,
            video_id="bob_private",
        ),
        video(
            "Comet own failed",
            owner="bob",
            visibility=Visibility.UNLISTED,
            status=Status.FAILED,
            video_id="bob_failed",
        ),
        video("Comet public ready", owner="alice", video_id="alice_public"),
        video(
            "Comet public processing", owner="alice", status=Status.PROCESSING, video_id="alice_processing"
        ),
        video("Comet private", owner="alice", visibility=Visibility.PRIVATE, video_id="alice_private"),
        video("Comet unlisted", owner="alice", visibility=Visibility.UNLISTED, video_id="alice_unlisted"),
        video("Comet deleting", owner="bob", status=Status.DELETING, video_id="bob_deleting"),
    )
    assert sorted(ids(index, "comet", caller="bob")) == ["alice_public", "bob_failed", "bob_private"]
    assert sorted(ids(index, "comet", caller="alice")) == [
        "alice_private",
        "alice_processing",
        "alice_public",
        "alice_unlisted",
    ]
    assert ids(index, "comet", caller="carol") == ["alice_public"]


def test_the_visibility_filter_applies_before_the_top_k_cut() -> None:
    """Many better-scoring private videos of someone else must not push the visible one out of a page."""
    private = [video("Nebula nebula nebula", owner="alice", visibility=Visibility.PRIVATE) for _ in range(30)]
    index = index_of(*private, video("A nebula, once", owner="alice", video_id="visible"))
    assert ids(index, "nebula", caller="carol", limit=1) == ["visible"]


@pytest.mark.parametrize(
    "text",
    [
        'title:secret OR "x"',
        "* AND audience:public",
        "'; DROP TABLE videos; --",
        "owner\\:alice",
        "a~2 b^10 [c TO d] (e) {f}",
    ],
)
def test_query_syntax_in_the_text_is_only_words(text: str) -> None:
    index = index_of(
        video("secret plan", owner="alice", visibility=Visibility.PRIVATE, video_id="private"),
        video("Drop table videos", video_id="sql"),
    )
    found = ids(index, text, caller="carol")
    assert "private" not in found
    words = index.words(text)
    assert all(w.isalnum() for w in words), words


def test_highlights_give_the_matched_fields_and_ranges_in_the_original_text() -> None:
    index = index_of(
        video(
            "Café au lait",
            description="Morning CAFÉ routine " + "x " * 200,
            tags=("café", "breakfast"),
            video_id="v",
        )
    )
    [hit] = index.search(index.words("cafe"), STRATEGIES[Algorithm.TEXT], audience_of("bob"), 10)
    by_field = {(h.field, h.snippet): [(m.start, m.end) for m in h.matches] for h in hit.highlights}
    assert by_field[(Field_.TITLE, "Café au lait")] == [(0, 4)]
    assert by_field[(Field_.TAGS, "café")] == [(0, 4)]
    [(snippet, ranges)] = [(s, r) for (f, s), r in by_field.items() if f is Field_.DESCRIPTION]
    assert [snippet[a:b] for a, b in ranges] == ["CAFÉ"]
    assert len(snippet) <= 160
    assert hit.title == "Café au lait"


def test_typo_matches_are_highlighted_too() -> None:
    index = index_of(video("Spaceship launch", video_id="v"))
    [hit] = index.search(index.words("spacehsip"), STRATEGIES[Algorithm.FUZZY], audience_of("bob"), 10)
    [highlight] = hit.highlights
    assert [highlight.snippet[m.start : m.end] for m in highlight.matches] == ["Spaceship"]


def forms(*items: WordForm) -> Sequence[WordForm]:
    return items


def test_word_forms_match_as_the_index_does() -> None:
    assert WordForm("galaxy").matches("galaxy")
    assert not WordForm("galaxy").matches("galaxi")
    assert WordForm("gal", prefix=True).matches("galaxy")
    assert WordForm("galaxy", distance=1).matches("glaaxy")  # a transposition is one edit
    assert WordForm("galxa", distance=1, prefix=True).matches("galaxy")
    assert not WordForm("zzz", distance=1, prefix=True).matches("galaxy")


def test_an_upsert_replaces_and_a_removal_removes() -> None:
    index = index_of(video("Old title", video_id="v"))
    with index.writing() as batch:
        batch.upsert(document_for(video("New title", video_id="v")))  # type: ignore[arg-type]
    assert ids(index, "old") == []
    assert ids(index, "new") == ["v"]
    with index.writing() as batch:
        batch.remove("v")
    assert ids(index, "new") == []
    assert index.count() == 0
