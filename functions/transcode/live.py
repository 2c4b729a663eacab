"""Playable while it encodes: a thread that watches the one-process encode's output directory and
publishes to the media bucket, as they land, what a player can start from.

FFmpeg (encoder.LadderJob with `live`) renames each segment and each EVENT media playlist into place only
when whole, and rewrites a rendition's playlist right after each of its segments. Every `interval_s`:
- each rendition's playlist on disk is read once (a snapshot: FFmpeg may rewrite it meanwhile); the
  segments it names that are not up yet are uploaded, then the snapshot (cached for a second only);
- once every rendition has a segment up, a master playlist naming every rendition (nominal bandwidths:
  the final master, written from what was encoded, replaces it at the end), and the video is marked
  playable (`on_playable`): GET /videos/{id}/playback answers from then on, and a player started then
  follows the EVENT playlists to their end;
- before each upload, `where()` (one consistent read of the record) says the prefix to write to, or
  raises if the run must stop. If the video's visibility changed meanwhile, what is already up is
  written again under the new prefix from local disk and removed from the old one, then the video is
  marked playable there.

`finish` then writes what is left: the last segments, then the pictures, the final (VOD) playlists and
the master, in that order (a player that finds a playlist finds every segment it names).

Memory stays flat: the set of keys written and one playlist's text at a time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from functions.transcode.ladder import Rendition
from functions.transcode.playlists import VariantStats, write_master_playlist
from functions.transcode.ports import MediaStore

PUBLISH_EVERY_S = 0.2
PLAYLIST = "index.m3u8"


def playlist_segments(text: str) -> list[str]:
    """The segment URIs a media playlist names, in order."""
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


class LivePublisher:
    def __init__(
        self,
        media: MediaStore,
        out: Path,
        snapshots: Path,
        renditions: list[Rendition],
        fps: float,
        where: Callable[[], str],
        on_playable: Callable[[str], object],
        codecs: Callable[[Path], str],
        interval_s: float = PUBLISH_EVERY_S,
    ) -> None:
        self.media = media
        self.out = out
        self.snapshots = snapshots
        self.renditions = renditions
        self.fps = fps
        self.where = where
        self.on_playable = on_playable
        self.codecs = codecs
        self.interval_s = interval_s
        self.prefix: str | None = None
        self.sent: list[Path] = []  # local files written under `prefix`, in the order they were
        self._sent: set[Path] = set()
        self._playlists: dict[str, str] = {}  # rendition -> the playlist text last written
        self.playable = False
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="live-publisher", daemon=True)

    # --- the thread ---------------------------------------------------------------------------------

    def start(self) -> LivePublisher:
        self.snapshots.mkdir(parents=True, exist_ok=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.publish()
            except BaseException as exc:  # handed to the encode's thread by `stop`
                self.error = exc
                return

    def failed(self) -> bool:
        """For the encode's stop check: publishing failed (or the run must stop), so kill FFmpeg."""
        return self.error is not None

    def stop(self) -> None:
        """Stop the thread; raise what made it fail."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        if self.error is not None:
            raise self.error

    # --- one round ----------------------------------------------------------------------------------

    def publish(self) -> None:
        """Upload the segments the playlists on disk name and are not up yet, then those playlists; the
        master and the playable mark once every rendition has a segment up."""
        pending: list[tuple[Rendition, str, list[Path]]] = []
        for r in self.renditions:
            path = self.out / r.name / PLAYLIST
            text = path.read_text() if path.is_file() else ""
            if not text or text == self._playlists.get(r.name):
                continue
            segments = [self.out / r.name / uri for uri in playlist_segments(text)]
            pending.append((r, text, [s for s in segments if s not in self._sent]))
        if not pending:
            return
        prefix = self._prefix()
        self._put([segment for _, _, segments in pending for segment in segments], prefix)
        snapshots = []
        for r, text, _ in pending:
            snapshot = self.snapshots / r.name / PLAYLIST
            snapshot.parent.mkdir(parents=True, exist_ok=True)
            snapshot.write_text(text)
            snapshots.append((snapshot, f"{prefix}{r.name}/{PLAYLIST}"))
            self._playlists[r.name] = text
        self.media.put_files(snapshots, live=True)
        self._remember([snapshot for snapshot, _ in snapshots])
        if not self.playable and len(self._playlists) == len(self.renditions):
            self._publish_master(prefix)
            self.on_playable(prefix)
            self.playable = True

    def finish(self, prefix: str, final: list[Path]) -> None:
        """After the encode: the segments not up yet, then `final` (pictures, VOD playlists, master; in
        that order of kinds) under `prefix`, with the headers of finished files."""
        self._move_to(prefix)
        self.prefix = prefix
        segments = sorted(p for r in self.renditions for p in (self.out / r.name).glob("*.ts"))
        self._put([s for s in segments if s not in self._sent], prefix)
        order = (
            [p for p in final if p.suffix != ".m3u8"],
            [p for p in final if p.suffix == ".m3u8" and p.name != "master.m3u8"],
            [p for p in final if p.name == "master.m3u8"],
        )
        for batch in order:
            if batch:
                self.media.put_files([(p, prefix + p.relative_to(self.out).as_posix()) for p in batch])

    # --- helpers ------------------------------------------------------------------------------------

    def _prefix(self) -> str:
        prefix = self.where()
        if self.prefix is not None and prefix != self.prefix:
            self._move_to(prefix)
            if self.playable:
                self.on_playable(prefix)
        self.prefix = prefix
        return prefix

    def _move_to(self, prefix: str) -> None:
        """Everything written so far again under `prefix` (from local disk), then removed where it was."""
        if self.prefix is None or prefix == self.prefix or not self.sent:
            return
        old = self.prefix
        keys = [self._key(p) for p in self.sent]
        media = [p for p in self.sent if p.suffix != ".m3u8"]
        playlists = [p for p in self.sent if p.suffix == ".m3u8" and p.name != "master.m3u8"]
        master = [p for p in self.sent if p.name == "master.m3u8"]
        for batch in (media, playlists, master):
            if batch:
                self.media.put_files([(p, prefix + self._key(p)) for p in batch], live=True)
        self.media.delete([old + k for k in keys])

    def _key(self, local: Path) -> str:
        root = self.snapshots if local.is_relative_to(self.snapshots) else self.out
        return local.relative_to(root).as_posix()

    def _put(self, files: list[Path], prefix: str) -> None:
        if not files:
            return
        self.media.put_files([(f, prefix + self._key(f)) for f in files])
        self._remember(files)

    def _remember(self, files: list[Path]) -> None:
        for f in files:
            if f not in self._sent:
                self.sent.append(f)
                self._sent.add(f)

    def _publish_master(self, prefix: str) -> None:
        """A master naming every rendition at its nominal rate (the final one, from what was encoded,
        replaces it), with the CODECS of each rendition's first segment."""
        stats = []
        for r in self.renditions:
            first = self.out / r.name / playlist_segments(self._playlists[r.name])[0]
            peak = (int(r.video_kbps * 1.1) + r.audio_kbps) * 1000
            stats.append(VariantStats(r, peak, (r.video_kbps + r.audio_kbps) * 1000, self.codecs(first), 0.0))
        write_master_playlist(self.snapshots, stats, self.fps)
        master = self.snapshots / "master.m3u8"
        self.media.put_files([(master, prefix + "master.m3u8")], live=True)
        self._remember([master])
