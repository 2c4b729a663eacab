"""API keys: `skr_<prefix>_<secret>`. The prefix is shown in listings; only a hash of the key is stored."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from functions.shared.errors import UnauthenticatedError, ValidationFailedError
from functions.shared.vocabulary import API_KEY_SCOPES

KEY_SCOPES = API_KEY_SCOPES
_PREFIX_LEN = 8


@dataclass(frozen=True)
class NewApiKey:
    key: str
    prefix: str


def generate() -> NewApiKey:
    prefix = secrets.token_hex(_PREFIX_LEN // 2)
    return NewApiKey(f"skr_{prefix}_{secrets.token_urlsafe(32)}", f"skr_{prefix}")


def parse_prefix(key: str) -> str:
    parts = key.split("_")
    if len(parts) < 3 or parts[0] != "skr" or len(parts[1]) != _PREFIX_LEN:
        raise UnauthenticatedError("The API key is malformed.")
    return f"skr_{parts[1]}"


def check_scopes(scopes: list[str]) -> list[str]:
    unknown = sorted(set(scopes) - KEY_SCOPES)
    if unknown:
        raise ValidationFailedError(
            "Unknown scopes.",
            details=[
                {
                    "location": "body.scopes",
                    "message": f"{s!r} is not one of {sorted(KEY_SCOPES)}",
                    "type": "unknown_scope",
                }
                for s in unknown
            ],
        )
    if not scopes:
        raise ValidationFailedError(
            "An API key needs at least one scope.",
            details=[{"location": "body.scopes", "message": "give at least one scope", "type": "missing"}],
        )
    return sorted(set(scopes))
