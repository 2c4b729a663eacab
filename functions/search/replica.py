"""The index in this container's /tmp, kept in step with the version published on S3.

Readers (`ReadReplica`) load the current version once per warm container and look at the pointer again
at most every `check_every_s`; a new version costs only the segment files they do not hold yet (segment
files never change, so they are shared between versions by hard links). The writer (`WriteReplica`, the
indexer: one at a time) commits a batch into its own copy, uploads the new segment files, then moves the
pointer, so a reader never sees a version whose files are not all there.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from functions.search.engine import TantivyIndex
from functions.search.models import Change, Manifest, SearchDocument
from functions.search.ports import IndexFiles
from functions.shared.clock import now_iso
from functions.shared.errors import DependencyUnavailableError
from functions.shared.observability import logger

META = "meta.json"
DOWNLOAD_THREADS = 8
SWEEP_EVERY_S = 60.0
# Older than this and named by neither of the last two versions, a file is garbage: no reader loads a
# version that old, and no writer takes this long between uploading a file and publishing its version.
UNREFERENCED_GRACE_S = 900.0


def segment_files(directory: Path) -> list[str]:
    """The files of the segments tantivy's meta.json names (not its lock files nor stale ones)."""
    meta = json.loads((directory / META).read_text())
    segments = {segment["segment_id"].replace("-", "") for segment in meta["segments"]}
    return sorted(p.name for p in directory.iterdir() if p.name.split(".", 1)[0] in segments)


def _fetch(files: IndexFiles, manifest: Manifest, store: Path) -> None:
    """Download the manifest's files `store` lacks, in parallel."""
    store.mkdir(parents=True, exist_ok=True)
    missing = [name for name in manifest.files if not (store / name).exists()]
    with ThreadPoolExecutor(DOWNLOAD_THREADS) as pool:
        list(pool.map(lambda name: files.download(name, store / name), missing))


class ReadReplica:
    def __init__(
        self,
        files: IndexFiles,
        root: Path,
        check_every_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.files = files
        self.root = root
        self.check_every_s = check_every_s
        self.clock = clock
        self.version = 0
        self._index: TantivyIndex | None = None
        self._checked_at = float("-inf")
        self._lock = threading.Lock()

    def current(self) -> TantivyIndex:
        with self._lock:
            now = self.clock()
            if self._index is None or now - self._checked_at >= self.check_every_s:
                self._refresh()
                self._checked_at = now
            assert self._index is not None
            return self._index

    def _refresh(self) -> None:
        try:
            manifest = self.files.manifest()
        except DependencyUnavailableError:
            if self._index is None:
                raise
            logger.warning("index pointer unreadable: answering from version %d", self.version)
            return
        if manifest is None:  # nothing published yet: an empty index answers (no results)
            if self._index is None:
                self._index = TantivyIndex()
            return
        if manifest.version != self.version:
            try:
                self._load(manifest)
            except DependencyUnavailableError:
                if self._index is None:
                    raise
                # A file missing or unreadable (e.g. swept after two newer versions): the next check
                # reads the pointer again and loads whatever is current then.
                logger.warning(
                    "index version %d not loaded: answering from %d", manifest.version, self.version
                )

    def _load(self, manifest: Manifest) -> None:
        started = time.perf_counter()
        store = self.root / "files"
        _fetch(self.files, manifest, store)
        directory = self.root / f"v{manifest.version}"
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)
        for name in manifest.files:
            os.link(store / name, directory / name)
        (directory / META).write_text(manifest.meta)
        self._index = TantivyIndex(directory)
        previous, self.version = self.version, manifest.version
        self._forget(keep=directory, files=set(manifest.files))
        logger.info(
            "index loaded",
            extra={
                "version": manifest.version,
                "previous": previous,
                "documents": manifest.documents,
                "ms": round((time.perf_counter() - started) * 1000, 1),
            },
        )

    def _forget(self, keep: Path, files: set[str]) -> None:
        """Drop older versions and files the current one does not use (/tmp is bounded). Open searchers
        keep what they mapped: unlinking a mapped file leaves it readable until it is unmapped."""
        for path in self.root.iterdir():
            if path.name.startswith("v") and path != keep:
                shutil.rmtree(path, ignore_errors=True)
        for path in (self.root / "files").iterdir():
            if path.name not in files:
                path.unlink(missing_ok=True)


class ConcurrentWriteError(Exception):
    """Another writer published a version while this one worked (a rebuild run beside the stream's
    indexer): nothing was published; the work is done again on top of the new version."""


class WriteReplica:
    """`IndexUpdates` over the published index: the indexer's own working copy."""

    def __init__(
        self,
        files: IndexFiles,
        root: Path,
        sweep_every_s: float = SWEEP_EVERY_S,
        grace_s: float = UNREFERENCED_GRACE_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.files = files
        self.directory = root / "work"
        self.version = 0
        self.sweep_every_s = sweep_every_s
        self.grace_s = grace_s
        self.clock = clock
        self._published: set[str] = set()
        self._index: TantivyIndex | None = None
        self._swept_at = float("-inf")

    def _in_step(self) -> TantivyIndex:
        """The working copy, fetched again if the published version is not the one it holds (a cold
        container, or a version this copy did not make)."""
        manifest = self.files.manifest()
        version = 0 if manifest is None else manifest.version
        if self._index is not None and version == self.version:
            return self._index
        shutil.rmtree(self.directory, ignore_errors=True)
        self.directory.mkdir(parents=True)
        if manifest is not None:
            _fetch(self.files, manifest, self.directory)
            (self.directory / META).write_text(manifest.meta)
        self._index = TantivyIndex(self.directory)
        self.version = version
        self._published = set(manifest.files) if manifest is not None else set()
        return self._index

    def apply(self, changes: Sequence[Change]) -> int:
        index = self._in_step()
        if not changes:
            return index.count()
        with index.writing() as batch:
            for change in changes:
                if change.document is None:
                    batch.remove(change.video_id)
                else:
                    batch.upsert(change.document)
        return self._publish(index)

    def replace_all(self, documents: Iterable[SearchDocument]) -> int:
        index = self._in_step()
        with index.writing() as batch:
            batch.clear()
            for document in documents:
                batch.add(document)
        return self._publish(index)

    def _publish(self, index: TantivyIndex) -> int:
        names = segment_files(self.directory)
        for name in names:
            if name not in self._published:
                self.files.upload(name, self.directory / name)
        count = index.count()
        published = self.files.manifest()
        if (0 if published is None else published.version) != self.version:
            self._index = None  # the next call starts again from what was published
            raise ConcurrentWriteError(f"version {self.version} was replaced while this batch was written")
        manifest = Manifest(
            version=self.version + 1,
            meta=(self.directory / META).read_text(),
            files=tuple(names),
            documents=count,
            published_at=now_iso(),
        )
        self.files.publish(manifest)
        previous = self._published
        self.version, self._published = manifest.version, set(names)
        self._sweep(keep=previous | self._published)
        return count

    def _sweep(self, keep: set[str]) -> None:
        """Delete stored files that neither this version nor the one before names (merges leave old
        segments behind at every publish). The previous version's are kept for readers still loading
        it, and any file younger than the grace period for a writer that has uploaded but not yet
        published. At most every `sweep_every_s`; a failure only leaves the files to the next sweep."""
        now = self.clock()
        if now - self._swept_at < self.sweep_every_s:
            return
        self._swept_at = now
        try:
            unreferenced = [
                name
                for name, written in self.files.stored()
                if name not in keep and now - written >= self.grace_s
            ]
            self.files.delete(unreferenced)
        except DependencyUnavailableError:
            logger.warning("index file sweep failed: unreferenced files stay until the next one")
            return
        if unreferenced:
            logger.info("index files swept", extra={"deleted": len(unreferenced), "version": self.version})
