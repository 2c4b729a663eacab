"""The CLI against a local cloud (the integration tests' topology: multipart from 6 MiB in 5 MiB parts,
the authorizer uncached, transcoding only for files named clip.mp4), run as a user runs it: the installed
`.venv/bin/skyreel` in a subprocess, with its own config directory."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from infra.local.cloud import LocalCloud, free_port
from tests.integration.conftest import User, fixture_topology, sign_up

SKYREEL = str(Path(sys.executable).with_name("skyreel"))


@dataclass
class Logs:
    lines: list[tuple[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def sink(self, source: str, line: str) -> None:
        with self.lock:
            self.lines.append((source, line))

    def mark(self) -> int:
        with self.lock:
            return len(self.lines)

    def since(self, mark: int, source: str) -> list[str]:
        with self.lock:
            return [line for who, line in self.lines[mark:] if who == source]


@pytest.fixture(scope="session")
def logs() -> Logs:
    return Logs()


@pytest.fixture(scope="session")
def cloud(logs: Logs) -> Iterator[LocalCloud]:
    local = LocalCloud(fixture_topology(), port=free_port(), prewarm=False, log_sink=logs.sink)
    local.start()
    yield local
    local.stop()


@pytest.fixture(scope="session")
def http(cloud: LocalCloud) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=cloud.url, timeout=30) as client:
        yield client


Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    return tmp_path / "config"


@pytest.fixture
def skyreel(cloud: LocalCloud, config_dir: Path) -> Run:
    """`skyreel ARGS...` as a subprocess; `env=` adds variables (SKYREEL_API_KEY, SKYREEL_PASSWORD)."""

    def run(
        *args: str, env: dict[str, str] | None = None, timeout: float = 180
    ) -> subprocess.CompletedProcess[str]:
        environment = {k: v for k, v in os.environ.items() if not k.startswith("SKYREEL_")}
        environment.update(
            {
                "SKYREEL_API_URL": cloud.url,
                "SKYREEL_CONFIG_DIR": str(config_dir),
                "COLUMNS": "200",
                **(env or {}),
            }
        )
        return subprocess.run(
            [SKYREEL, *args], env=environment, capture_output=True, text=True, timeout=timeout, check=False
        )

    return run


@pytest.fixture
def account(http: httpx.Client, skyreel: Run) -> User:
    """A new account, signed in with `skyreel login`."""
    user = sign_up(http)
    done = skyreel("login", "--email", user.email, env={"SKYREEL_PASSWORD": user.password})
    assert done.returncode == 0, done.stderr
    return user
