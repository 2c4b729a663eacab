"""The API over HTTP (httpx): credentials, the error shape, and a session's token refresh."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from cli.config import Session, Sessions

API = "/api/v1"
REFRESH_MARGIN_S = 30  # refresh an access token this long before it expires


class CliError(Exception):
    """Something the user must hear about: printed on stderr, the process exits with `exit_code`."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ApiError(CliError):
    """The API answered with its error shape `{"error": {"code", "message", "details"}}`."""

    def __init__(self, status: int, code: str, message: str, details: list[Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.details = details or []

    @classmethod
    def from_response(cls, response: httpx.Response) -> ApiError:
        try:
            error = response.json()["error"]
            return cls(response.status_code, str(error["code"]), str(error["message"]), error.get("details"))
        except (ValueError, KeyError, TypeError):
            text = response.text.strip()[:200] or response.reason_phrase
            return cls(response.status_code, "http_error", f"HTTP {response.status_code}: {text}")

    def describe(self) -> str:
        lines = [f"{self.message} ({self.code}, HTTP {self.status})"]
        for detail in self.details:
            if isinstance(detail, dict) and "message" in detail:
                where = ".".join(str(p) for p in detail.get("loc", ()) if p != "body")
                lines.append(f"  {where}: {detail['message']}" if where else f"  {detail['message']}")
        return "\n".join(lines)


class NotSignedIn(CliError):  # noqa: N818 - it reads as what the user is told
    exit_code = 3


class Unreachable(CliError):  # noqa: N818
    exit_code = 3


class Credential:
    """Adds a caller's credential to requests."""

    def headers(self, api: Api) -> dict[str, str]:
        return {}

    def renew(self, api: Api, rejected: dict[str, str]) -> bool:
        """After a 401: try once more with a fresh credential? (False: the 401 stands.)"""
        return False


@dataclass
class ApiKey(Credential):
    key: str

    def headers(self, api: Api) -> dict[str, str]:
        return {"X-API-Key": self.key}


@dataclass
class SessionCredential(Credential):
    """The session `skyreel login` stored: its access token, refreshed when it expires or is refused."""

    sessions: Sessions
    lock: threading.Lock = field(default_factory=threading.Lock)

    def headers(self, api: Api) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token(api, rejected=None)}"}

    def renew(self, api: Api, rejected: dict[str, str]) -> bool:
        self._token(api, rejected=rejected.get("Authorization", "").removeprefix("Bearer "))
        return True

    def _token(self, api: Api, rejected: str | None) -> str:
        with self.lock, self.sessions.store.locked():
            session = self.sessions.get(api.url)
            if session is None:
                raise NotSignedIn(
                    f"Not signed in to {api.url}: run `skyreel login` (or set SKYREEL_API_KEY)."
                )
            fresh = session.access_expires_at - REFRESH_MARGIN_S > time.time()
            # Another process may have refreshed already: its token is not the one that was refused.
            if session.access_token and fresh and session.access_token != rejected:
                return session.access_token
            response = api.send("POST", f"{API}/auth/refresh", json={"refresh_token": session.refresh_token})
            if response.status_code in (400, 401):
                self.sessions.forget(api.url)
                raise NotSignedIn(f"Your session at {api.url} has ended: run `skyreel login` again.")
            pair = api.checked(response)
            self.sessions.put(api.url, session_from(pair, session.email))
            return str(pair["access_token"])


def session_from(pair: dict[str, Any], email: str | None) -> Session:
    return Session(
        refresh_token=pair["refresh_token"],
        access_token=pair["access_token"],
        access_expires_at=time.time() + float(pair["expires_in"]),
        email=email,
    )


def new_client() -> httpx.Client:
    """The HTTP client every command uses (one per process; thread-safe, so parts share it)."""
    return httpx.Client(timeout=httpx.Timeout(60, connect=10))


class Api:
    """One API: `call` returns the parsed JSON body (None for 204) or raises ApiError."""

    def __init__(
        self, url: str, credential: Credential | None = None, client: httpx.Client | None = None
    ) -> None:
        self.url = url.rstrip("/")
        self.credential = credential or Credential()
        self.client = client or new_client()

    def send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        url = path if path.startswith(("http://", "https://")) else self.url + path
        try:
            return self.client.request(method, url, **kwargs)
        except httpx.TransportError as exc:
            raise Unreachable(f"Cannot reach {self.url}: {exc or type(exc).__name__}") from None

    @staticmethod
    def checked(response: httpx.Response) -> Any:
        if response.status_code >= 400:
            raise ApiError.from_response(response)
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:  # a 2xx that is not JSON: a wrong --api-url, a captive portal, a proxy page
            text = response.text.strip()[:200]
            raise ApiError(
                response.status_code,
                "not_json",
                f"The answer from {response.url} is not the API's JSON: {text}",
            ) from None

    def call(
        self,
        method: str,
        path: str,
        *,
        auth: bool = True,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> Any:
        sent = {**(self.credential.headers(self) if auth else {}), **(headers or {})}
        response = self.send(method, API + path, headers=sent, **kwargs)
        if response.status_code == 401 and auth and self.credential.renew(self, sent):
            sent = {**self.credential.headers(self), **(headers or {})}
            response = self.send(method, API + path, headers=sent, **kwargs)
        return self.checked(response)

    def close(self) -> None:
        self.client.close()
