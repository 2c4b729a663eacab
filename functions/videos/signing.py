"""Playback URLs. Public media is plain; everything else gets a CloudFront signature (a custom policy over
the video's whole prefix, so the playlists' relative segment URLs are covered too) as query parameters
and as signed cookies scoped to that prefix."""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass

from botocore.signers import CloudFrontSigner
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from functions.shared import aws
from functions.shared.keyset import load_private_key

SIGNED_URL_TTL = dt.timedelta(hours=6)


@dataclass(frozen=True)
class SignedAccess:
    query: str  # Policy=...&Signature=...&Key-Pair-Id=...
    cookies: dict[str, str]
    expires_at: dt.datetime


class MediaSigner:
    def __init__(self, secret_id: str, key_pair_id: str) -> None:
        self.secret_id = secret_id
        self.key_pair_id = key_pair_id

    @functools.cached_property
    def _signer(self) -> CloudFrontSigner:
        pem = aws.secrets().get_secret_value(SecretId=self.secret_id)["SecretString"]
        key = load_private_key(pem)
        # RSA-SHA1 is what CloudFront verifies signed URLs with; it is not our choice to make.
        return CloudFrontSigner(
            self.key_pair_id,
            lambda message: key.sign(message, padding.PKCS1v15(), hashes.SHA1()),  # noqa: S303
        )

    def sign_prefix(self, prefix_url: str, now: dt.datetime | None = None) -> SignedAccess:
        """Sign every URL under `prefix_url` (which ends with '/') until the TTL runs out."""
        expires = (now or dt.datetime.now(dt.UTC)) + SIGNED_URL_TTL
        policy = self._signer.build_policy(f"{prefix_url}*", expires)
        signed = self._signer.generate_presigned_url(prefix_url, policy=policy)
        query = signed.split("?", 1)[1]
        params = dict(pair.split("=", 1) for pair in query.split("&"))
        cookies = {f"CloudFront-{name}": value for name, value in params.items()}
        return SignedAccess(query, cookies, expires)
