"""Models of the search domain: what is indexed (a document), what a query is, and what the API answers."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

MAX_QUERY_CHARS = 256
MAX_QUERY_WORDS = 10  # Meilisearch's default too: words past the tenth are not searched
MAX_LIMIT = 50
DEFAULT_LIMIT = 10


class Algorithm(StrEnum):
    TEXT = "text"  # BM25 relevance, the last word also matched as a prefix (type-ahead)
    FUZZY = "fuzzy"  # text, plus typo tolerance: 1 typo from 5 characters, 2 from 9


class Field_(StrEnum):  # noqa: N801 - `Field` is pydantic's
    """The searched fields, most important first (their weights are in functions/search/engine.py)."""

    TITLE = "title"
    TAGS = "tags"
    DESCRIPTION = "description"


class SearchDocument(BaseModel):
    """One video as the index holds it: the searched text, and who may find it (`audience`)."""

    model_config = ConfigDict(frozen=True)

    video_id: str
    title: str
    description: str = ""
    tags: tuple[str, ...] = ()
    # Terms the visibility filter matches: `owner:<user id>` always, and `public` once public and ready.
    audience: tuple[str, ...]
    version: int = 1


class Change(BaseModel):
    """One video's new state for the index: its document, or None when it must not be found any more."""

    model_config = ConfigDict(frozen=True)

    video_id: str
    document: SearchDocument | None


class Query(BaseModel):
    """A query after validation: its words already folded as the index folds them."""

    model_config = ConfigDict(frozen=True)

    words: tuple[str, ...] = Field(min_length=1, max_length=MAX_QUERY_WORDS)
    algorithm: Algorithm = Algorithm.TEXT
    limit: int = Field(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)


# --- API ---------------------------------------------------------------------------------------------


class MatchRange(BaseModel):
    start: int = Field(description="Offset of the first highlighted character in `snippet`")
    end: int = Field(description="Offset just past the last highlighted character")


class Highlight(BaseModel):
    """Where a result matched, as plain text and character ranges (no markup to escape)."""

    field: Field_
    snippet: str = Field(description="The field's text (a window of it for long descriptions)")
    matches: list[MatchRange]


class SearchHit(BaseModel):
    video_id: str
    title: str
    score: float
    highlights: list[Highlight]


class SearchResults(BaseModel):
    results: list[SearchHit]
    algorithm: Algorithm
    took_ms: float = Field(description="Time spent in the index, in milliseconds")


class Manifest(BaseModel):
    """One published version of the index: tantivy's `meta.json` and the segment files it names.

    Segment files never change once written, so they are stored once under their own names; a version is
    only this small document, and a reader fetches just the files it does not hold yet.
    """

    model_config = ConfigDict(frozen=True)

    version: int = Field(ge=1)
    meta: str  # tantivy's meta.json, verbatim
    files: tuple[str, ...]
    documents: int = Field(ge=0)
    published_at: str


# --- async search jobs -------------------------------------------------------------------------------


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class CreateJobRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    query: str = Field(min_length=1, max_length=MAX_QUERY_CHARS)
    algorithm: Algorithm = Algorithm.TEXT
    limit: int = Field(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)


class JobRecord(BaseModel):
    """A search job as stored (functions/search/dal.py): its owner, its query, where it stands, its results."""

    job_id: str
    owner_id: str
    query: str
    algorithm: Algorithm
    limit: int
    status: JobStatus = JobStatus.QUEUED
    results: list[SearchHit] = Field(default_factory=list)
    error: str | None = None
    attempts: int = 1
    created_at: str
    updated_at: str
    expires_at: int  # epoch seconds: DynamoDB's TTL removes the job (and its results) after this

    def public(self) -> JobOut:
        return JobOut(**self.model_dump(include=set(JobOut.model_fields)))


class JobOut(BaseModel):
    job_id: str
    status: JobStatus
    query: str
    algorithm: Algorithm
    limit: int
    results: list[SearchHit]
    error: str | None
    attempts: int
    created_at: str
    updated_at: str
    expires_at: int


class JobAccepted(BaseModel):
    job_id: str
    status: JobStatus


class JobList(BaseModel):
    items: list[JobOut]
    next_cursor: str | None
