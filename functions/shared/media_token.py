"""Playback tokens for media that is not public: the token travels in the path, so it covers every URL a
player resolves relative to the master playlist.

    /media/s/<kid>.<expires>.<signature>/hls/<video_id>/<file...>

- `kid` names the key (several may be valid at once, for rotation), `expires` is a Unix time in seconds;
- `signature` is HMAC-SHA256, URL-safe base64 without padding, over the canonical string
  `skyreel-media-v1|<kid>|<expires>|hls/<video_id>/`. The scope is derived from the path, so a token
  opens exactly one video's directory.
- The rest of the path must match a strict grammar: path segments of `[A-Za-z0-9_-]` followed by
  `[A-Za-z0-9._-]`, so `..`, `.`, `//`, `%` (any encoding) and backslashes are refused before any key is
  looked at.

`media_key` is the whole media path's rule (public keys, token paths, nothing else). The CloudFront
Function `infra/aws/functions/media_token.js` implements the same rule; the test vectors in
`tests/unit/media_token_vectors.json` run against both. The key set (a Secrets Manager secret) has one
format, defined here and used by the signer, the local front door, the local provisioner and the CDK
key generator:

    {"active_kid": "m...", "keys": {"m...": "<43 url-safe random characters>"}}

The HMAC key is the UTF-8 bytes of that string (plain ASCII, so both runtimes read it the same way).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass

# Where the CDN serves media, and under it the public keys and the token paths (infra/model.py `Media`).
MEDIA_PATH = "/media/"
PUBLIC_PREFIX = "public/"
SIGNED_PATH = "s/"
SCOPE_PREFIX = "hls/"
CANONICAL_VERSION = "skyreel-media-v1"
KID = re.compile(r"[A-Za-z0-9_-]{1,16}")
VIDEO_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_TOKEN = re.compile(r"([A-Za-z0-9_-]{1,16})\.([0-9]{1,12})\.([A-Za-z0-9_-]{43})")
_SEGMENT = r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}"
# Everything after /media/s/: the token, then hls/<video_id>/ and at least one file segment.
_SIGNED = re.compile(rf"([^/]*)/hls/([A-Za-z0-9_-]{{1,64}})/({_SEGMENT}(?:/{_SEGMENT})*)")
# Keys served unsigned (public/...) must satisfy the same grammar: no traversal through the public path.
SAFE_KEY = re.compile(rf"{_SEGMENT}(?:/{_SEGMENT})*")


class TokenRejected(Exception):  # noqa: N818 - reads as the outcome it is
    """Why the CDN answers 403 to this media request."""


@dataclass(frozen=True)
class MediaKeys:
    active_kid: str
    keys: Mapping[str, str]

    @classmethod
    def from_json(cls, value: str) -> MediaKeys:
        data = json.loads(value)
        keys = dict(data["keys"])
        active = data["active_kid"]
        if active not in keys or not all(
            isinstance(k, str) and KID.fullmatch(k) and isinstance(v, str) and len(v) >= 32
            for k, v in keys.items()
        ):
            raise ValueError("not a media key set")
        return cls(active, keys)

    def to_json(self) -> str:
        return json.dumps({"active_kid": self.active_kid, "keys": dict(self.keys)}, sort_keys=True)


def new_media_keys() -> MediaKeys:
    kid = "m" + secrets.token_hex(4)
    return MediaKeys(kid, {kid: secrets.token_urlsafe(32)})


def scope_for(video_id: str) -> str:
    if not VIDEO_ID.fullmatch(video_id):
        raise ValueError(f"not a video id: {video_id!r}")
    return f"{SCOPE_PREFIX}{video_id}/"


def _signature(key: str, kid: str, expires: str, scope: str) -> str:
    # `expires` as the token spells it: the signed string is the one in the URL (as the CDN's check does),
    # so the same expiry spelt another way (leading zeros) is another, unsigned, token.
    message = f"{CANONICAL_VERSION}|{kid}|{expires}|{scope}".encode()
    digest = hmac.new(key.encode(), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def sign(keys: MediaKeys, video_id: str, expires: int) -> str:
    """The token that opens `hls/<video_id>/` until `expires` (Unix seconds), made with the active key."""
    kid = keys.active_kid
    return f"{kid}.{expires}.{_signature(keys.keys[kid], kid, str(expires), scope_for(video_id))}"


def media_key(path: str, keys: Mapping[str, str], now: float | None = None) -> str:
    """The object key a media request may read; `path` is what follows `/media/`, as received. Public keys
    as they are (same strict grammar), token paths checked and stripped; any other path is refused."""
    if path.startswith(SIGNED_PATH):
        return check(path[len(SIGNED_PATH) :], keys, now)
    if path.startswith(PUBLIC_PREFIX) and SAFE_KEY.fullmatch(path):
        return path
    raise TokenRejected("this media is not public: open it with its playback URL")


def check(signed_path: str, keys: Mapping[str, str], now: float | None = None) -> str:
    """`signed_path` is what follows `/media/s/` (as received, still percent-encoded). Returns the object
    key to serve (`hls/<video_id>/...`) or raises TokenRejected with the reason."""
    match = _SIGNED.fullmatch(signed_path)
    if match is None:
        raise TokenRejected("not a signed media path")
    token, video_id, rest = match.groups()
    parts = _TOKEN.fullmatch(token)
    if parts is None:
        raise TokenRejected("malformed token")
    kid, expires, signature = parts.groups()
    key = keys.get(kid)
    if key is None:
        raise TokenRejected("unknown key id")
    scope = f"{SCOPE_PREFIX}{video_id}/"
    if not hmac.compare_digest(signature, _signature(key, kid, expires, scope)):
        raise TokenRejected("signature does not match")
    if (time.time() if now is None else now) >= int(expires):
        raise TokenRejected("token expired")
    return scope + rest
