"""What the search logic depends on, as Protocols (fakes: tests/fakes/search.py)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Protocol

from functions.search.models import Change, JobRecord, JobStatus, Manifest, SearchDocument, SearchHit
from functions.search.strategies import Strategy
from functions.videos.models import VideoRecord


class SearchIndex(Protocol):
    """An index that answers queries: the embedded tantivy one or OpenSearch."""

    def words(self, text: str) -> list[str]:
        """`text` cut into words and folded as the index folds documents."""
        ...

    def search(
        self, words: Sequence[str], strategy: Strategy, audience: Sequence[str], limit: int
    ) -> list[SearchHit]: ...

    def visible(self, video_ids: Sequence[str], audience: Sequence[str]) -> set[str]:
        """Which of `video_ids` `audience` may see now (the filter every search applies)."""
        ...


class IndexSource(Protocol):
    """The current index for this container (reloaded when a newer version is published)."""

    def current(self) -> SearchIndex: ...


class IndexUpdates(Protocol):
    """Where the indexer applies changes; one writer at a time."""

    def apply(self, changes: Sequence[Change]) -> int:
        """Apply in order (of two changes to one video the later wins) as one version; the new count."""
        ...

    def replace_all(self, documents: Iterable[SearchDocument]) -> int:
        """Replace every document with `documents` in one version; the new document count."""
        ...


class IndexFiles(Protocol):
    """Where published index versions live (S3): a pointer to the current manifest and the files."""

    def manifest(self) -> Manifest | None:
        """The current version's manifest; None if nothing was published yet."""
        ...

    def download(self, name: str, target: Path) -> None: ...

    def upload(self, name: str, source: Path) -> None: ...

    def publish(self, manifest: Manifest) -> None:
        """Make `manifest` the current version (its files are uploaded first)."""
        ...

    def stored(self) -> list[tuple[str, float]]:
        """Every stored file: its name and when it was written (epoch seconds)."""
        ...

    def delete(self, names: Sequence[str]) -> None: ...


class VideoCatalogue(Protocol):
    """Every video record, for a rebuild (the videos domain's data access)."""

    def all_videos(self) -> Iterable[VideoRecord]: ...


class JobStore(Protocol):
    """Search jobs (the search table; fake: tests/fakes/search.py)."""

    def create(self, job: JobRecord) -> None: ...

    def get(self, job_id: str) -> JobRecord | None: ...

    def replace(self, job: JobRecord, expected: frozenset[JobStatus], attempt: int) -> bool:
        """Write `job` only if the stored one's status is in `expected` and it is still at `attempt` (a
        worker of an earlier attempt must not overwrite a retried job); False (nothing written) if not."""
        ...

    def list_owned(self, owner_id: str, limit: int, cursor: str | None) -> tuple[list[JobRecord], str | None]:
        """The owner's jobs, newest first, and the cursor of the next page (MalformedRequestError for a
        cursor this listing did not make)."""
        ...


class JobQueue(Protocol):
    def send(self, job_id: str) -> None: ...
