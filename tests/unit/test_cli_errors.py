"""The CLI's failure paths that need no API: what it keeps on disk and what it prints (no tracebacks)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from cli.api import Api, ApiError
from cli.config import Session, Sessions
from cli.main import main
from infra.local.cloud import free_port


def test_an_answer_that_is_not_json_is_an_api_error_not_a_traceback() -> None:
    page = httpx.Response(200, text="<html>captive portal</html>", request=httpx.Request("GET", "http://x/"))
    with pytest.raises(ApiError, match="not the API's JSON") as raised:
        Api.checked(page)
    assert raised.value.code == "not_json"


def test_logout_forgets_the_session_even_when_the_api_cannot_be_reached(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    api_url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    monkeypatch.setenv("SKYREEL_CONFIG_DIR", str(tmp_path))
    Sessions(tmp_path).put(api_url, Session(refresh_token="rt_secret"))
    assert main(["--api-url", api_url, "logout"]) == 3
    assert Sessions(tmp_path).get(api_url) is None
    assert "rt_secret" not in (tmp_path / "sessions.json").read_text()
    assert "Cannot reach" in capsys.readouterr().err
