"""Browser tests: Debian's Chromium, driven by Playwright, against a local cloud serving the built dashboard.

The cloud runs as its own process (tests/e2e/serve.py), started once per test session (per xdist worker);
the dashboard is web/dist (`make web`), and Chromium is /usr/bin/chromium (`make chromium`): `make test`
builds and installs both. Screenshots of every page go to artifacts/e2e/."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from infra.local.cloud import free_port
from infra.model import ROOT

ARTIFACTS = ROOT / "artifacts" / "e2e"
START_TIMEOUT_S = 150  # a cold start on a busy 2-core machine
# Sign-up runs a saga and argon2, and a first call starts a function's sandbox: on a busy machine seconds.
expect.set_options(timeout=30_000)


@dataclass(frozen=True)
class Cloud:
    url: str
    log: Path


@pytest.fixture(scope="session")
def e2e_cloud() -> Iterator[Cloud]:
    if not (ROOT / "web" / "dist" / "index.html").exists():
        pytest.fail("the dashboard is not built: run `make web` (make test does)")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log = ARTIFACTS / f"cloud-{port}.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.e2e.serve", "--port", str(port), "--log", str(log)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=dict(os.environ),
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if process.poll() is not None:
                pytest.fail(
                    f"the local cloud exited while starting:\n{process.stdout.read() if process.stdout else ''}"
                )
            try:
                if httpx.get(f"{url}/api/v1/health", timeout=10).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"the local cloud did not answer within {START_TIMEOUT_S} s")
            time.sleep(0.5)
        yield Cloud(url, log)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def chromium_path() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.fail("Debian's chromium is not installed: `make chromium` (or apt-get install chromium)")
    return found


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=chromium_path(),
            # the test starts playback from script, as a click on the play button would
            args=["--autoplay-policy=no-user-gesture-required", "--disable-dev-shm-usage"],
        )
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 800}, accept_downloads=True)
    context.set_default_timeout(30_000)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    yield tab
    context.close()
    assert not errors, f"uncaught errors in the page: {errors}"


def shot(page: Page, name: str, *, full_page: bool = True) -> Path:
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path
