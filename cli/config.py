"""What the CLI remembers between runs, in the user's config directory (`typer.get_app_dir`, or
`SKYREEL_CONFIG_DIR`): the session of each API it signed in to, and the uploads it has not finished.

Both files are written whole (a temporary file renamed over the old one) with mode 0600, under a lock
file, so two `skyreel` processes never spend the same refresh token twice (the API ends a session whose
spent token is presented again) nor lose each other's writes.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import typer

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: one process at a time is the user's affair
    fcntl = None  # type: ignore[assignment]

CONFIG_DIR_ENV = "SKYREEL_CONFIG_DIR"
_THREAD_LOCK = threading.RLock()
_HELD = threading.local()  # the stores this thread holds the lock of


def config_dir() -> Path:
    override = os.environ.get(CONFIG_DIR_ENV)
    return Path(override) if override else Path(typer.get_app_dir("skyreel"))


@dataclass
class Session:
    """A signed-in session: the refresh token (rotated on every refresh) and the latest access token."""

    refresh_token: str
    access_token: str | None = None
    access_expires_at: float = 0.0  # Unix time
    email: str | None = None


class Store:
    """One JSON file of `{key: object}` in the config directory."""

    def __init__(self, name: str, directory: Path | None = None) -> None:
        self.directory = directory or config_dir()
        self.path = self.directory / name

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Exclusive across threads and processes for the block (reads and writes inside it are safe).
        Re-entrant in a thread: a second flock on another descriptor would wait for the first forever."""
        with _THREAD_LOCK:
            held: set[Path] = getattr(_HELD, "paths", set())
            if self.path in held:
                yield
                return
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            with open(self.path.with_suffix(".lock"), "a") as lock:
                if fcntl is not None:
                    fcntl.flock(lock, fcntl.LOCK_EX)
                _HELD.paths = held | {self.path}
                try:
                    yield
                finally:
                    _HELD.paths = held
                    if fcntl is not None:
                        fcntl.flock(lock, fcntl.LOCK_UN)

    def read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return {}
        return data if isinstance(data, dict) else {}

    def write(self, data: dict[str, Any]) -> None:
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        temporary = self.path.with_suffix(".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(data, out, indent=2, sort_keys=True)
        os.replace(temporary, self.path)

    def get(self, key: str) -> Any:
        return self.read().get(key)

    def put(self, key: str, value: Any) -> None:
        with self.locked():
            data = self.read()
            data[key] = value
            self.write(data)

    def remove(self, key: str) -> None:
        with self.locked():
            data = self.read()
            if data.pop(key, None) is not None:
                self.write(data)


class Sessions:
    """The session per API URL (`sessions.json`), so a local and a deployed API can both be signed in."""

    def __init__(self, directory: Path | None = None) -> None:
        self.store = Store("sessions.json", directory)

    def get(self, api_url: str) -> Session | None:
        raw = self.store.get(api_url)
        return Session(**raw) if isinstance(raw, dict) else None

    def put(self, api_url: str, session: Session) -> None:
        self.store.put(api_url, asdict(session))

    def forget(self, api_url: str) -> None:
        self.store.remove(api_url)


def upload_key(api_url: str, path: Path, size: int, mtime_ns: int) -> str:
    """The same file (path, size, modification time) to the same API is the same upload."""
    raw = json.dumps([api_url, str(path.resolve()), size, mtime_ns])
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


class Uploads:
    """Uploads begun and not finished (`uploads.json`): what a rerun needs to resume instead of starting
    again. Entries: `{"idempotency_key", "request", "video_id"}`."""

    def __init__(self, directory: Path | None = None) -> None:
        self.store = Store("uploads.json", directory)

    def get(self, key: str) -> dict[str, Any] | None:
        value = self.store.get(key)
        return value if isinstance(value, dict) else None

    def put(self, key: str, value: dict[str, Any]) -> None:
        self.store.put(key, value)

    def forget(self, key: str) -> None:
        self.store.remove(key)
