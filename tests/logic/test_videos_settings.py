"""Each videos function's settings are validated whole, once per sandbox: a missing grant fails the first
invocation naming the variable, never a request later on; the wiring builds nothing twice."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pydantic import ValidationError

from functions.videos import deletion, handler, ingest, media, publishing, sweeper, wiring
from functions.videos.settings import ApiSettings, SweeperSettings

SWEEPER_ENV = {"VIDEOS_TABLE_NAME": "videos", "UPLOADS_BUCKET_NAME": "uploads"}


@pytest.fixture(autouse=True)
def _fresh_wiring() -> Iterator[None]:
    wiring.reset()
    yield
    wiring.reset()


def test_every_entry_module_names_its_own_settings() -> None:
    models = [m.Settings for m in (handler, ingest, deletion, sweeper, media, publishing)]
    assert len(set(models)) == 6


def test_a_missing_grant_is_named_when_the_settings_are_first_read(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("VIDEOS_TABLE_NAME", "UPLOADS_BUCKET_NAME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("VIDEOS_TABLE_NAME", "videos")
    with pytest.raises(ValidationError, match="UPLOADS_BUCKET_NAME"):
        wiring.settings(SweeperSettings)
    with pytest.raises(ValidationError, match="VIDEO_DELETE_STATE_MACHINE_ARN"):
        ApiSettings.from_environment({"VIDEOS_TABLE_NAME": "videos"})


def test_settings_and_use_cases_are_built_once(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in SWEEPER_ENV.items():
        monkeypatch.setenv(name, value)
    first = wiring.settings(SweeperSettings)
    assert (first.table, first.uploads_bucket) == ("videos", "uploads")
    monkeypatch.setenv("VIDEOS_TABLE_NAME", "changed")
    assert wiring.settings(SweeperSettings) is first  # read once per sandbox
    assert wiring.sweeper() is wiring.sweeper()
