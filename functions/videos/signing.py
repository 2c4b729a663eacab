"""Playback URLs. Public media is plain; everything else gets a playback token in the path
(functions/shared/media_token.py), so the master playlist, the variant playlists and segments a player
resolves relative to it, the poster and the storyboard all carry it. No cookies: the URL alone plays."""

from __future__ import annotations

import functools
import time

from functions.shared import aws
from functions.shared.media_token import MEDIA_PATH, SIGNED_PATH, MediaKeys, scope_for, sign
from functions.videos.ports import SignedPrefix

SIGNED_URL_TTL_S = 6 * 3600


class MediaSigner:
    def __init__(self, secret_id: str, cdn_url: str) -> None:
        self.secret_id = secret_id
        self.cdn_url = cdn_url.rstrip("/")  # from configuration, never from a request

    @functools.cached_property
    def _keys(self) -> MediaKeys:
        # Read once per sandbox: a rotation adds a key, and the old one stays valid while tokens live.
        return MediaKeys.from_json(aws.secrets().get_secret_value(SecretId=self.secret_id)["SecretString"])

    def public_prefix(self, media_prefix: str) -> str:
        return f"{self.cdn_url}{MEDIA_PATH}{media_prefix}"

    def sign_video(self, video_id: str, now: float | None = None) -> SignedPrefix:
        """A URL prefix that opens `hls/<video_id>/` (and nothing else) until the TTL runs out."""
        expires = int(time.time() if now is None else now) + SIGNED_URL_TTL_S
        token = sign(self._keys, video_id, expires)
        return SignedPrefix(f"{self.cdn_url}{MEDIA_PATH}{SIGNED_PATH}{token}/{scope_for(video_id)}", expires)
