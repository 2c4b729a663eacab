"""The local CDN's signed-URL check agrees with what botocore's CloudFrontSigner produces."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlsplit

import pytest
from botocore.signers import CloudFrontSigner
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from infra.local.signing import SignatureRejected, Verifier, from_request, key_id_for

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER = rsa.generate_private_key(public_exponent=65537, key_size=2048)
KEY_ID = key_id_for(KEY.public_key())
BASE = "http://127.0.0.1:8000/media/hls/v1/master.m3u8"
NOW = 1_900_000_000


def signer(key: rsa.RSAPrivateKey = KEY, key_id: str = KEY_ID) -> CloudFrontSigner:
    return CloudFrontSigner(key_id, lambda message: key.sign(message, padding.PKCS1v15(), hashes.SHA1()))


def verify(url: str, now: float = NOW, cookies: dict[str, str] | None = None, ip: str = "127.0.0.1") -> None:
    parts = urlsplit(url)
    Verifier({KEY_ID: KEY.public_key()}).verify(
        from_request(parts.scheme, parts.netloc, parts.path, parts.query, cookies or {}, ip), now=now
    )


def at(seconds: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, tz=dt.UTC)


def test_canned_policy_url_is_accepted_until_it_expires() -> None:
    url = signer().generate_presigned_url(BASE, date_less_than=at(NOW + 60))
    verify(url)
    with pytest.raises(SignatureRejected, match="expired"):
        verify(url, now=NOW + 61)


def test_tampered_path_or_signature_is_rejected() -> None:
    url = signer().generate_presigned_url(BASE, date_less_than=at(NOW + 60))
    with pytest.raises(SignatureRejected):
        verify(url.replace("/v1/", "/v2/"))
    with pytest.raises(SignatureRejected):
        verify(url.replace("Signature=", "Signature=AA"))
    with pytest.raises(SignatureRejected):
        verify(url.replace(f"Expires={NOW + 60}", f"Expires={NOW + 6000}"))


def test_wrong_key_and_missing_signature_are_rejected() -> None:
    with pytest.raises(SignatureRejected, match="does not match"):
        verify(signer(OTHER).generate_presigned_url(BASE, date_less_than=at(NOW + 60)))
    with pytest.raises(SignatureRejected, match="unknown Key-Pair-Id"):
        verify(signer(key_id="KNOPE").generate_presigned_url(BASE, date_less_than=at(NOW + 60)))
    with pytest.raises(SignatureRejected, match="missing"):
        verify(BASE)


def test_custom_policy_with_wildcard_covers_segments_but_not_other_videos() -> None:
    cf = signer()
    policy = cf.build_policy("http://127.0.0.1:8000/media/hls/v1/*", at(NOW + 60))
    query = cf.generate_presigned_url("http://x/", policy=policy).split("?", 1)[1]
    verify(f"http://127.0.0.1:8000/media/hls/v1/720p/seg_001.ts?{query}")
    with pytest.raises(SignatureRejected, match="another resource"):
        verify(f"http://127.0.0.1:8000/media/hls/v2/720p/seg_001.ts?{query}")


def test_signed_cookies_work_like_query_parameters() -> None:
    cf = signer()
    policy = cf.build_policy("http://127.0.0.1:8000/media/hls/v1/*", at(NOW + 60))
    params = dict(
        p.split("=", 1)
        for p in cf.generate_presigned_url("http://x/", policy=policy).split("?", 1)[1].split("&")
    )
    cookies = {f"CloudFront-{k}": v for k, v in params.items()}
    verify("http://127.0.0.1:8000/media/hls/v1/480p/seg_002.ts", cookies=cookies)


def test_ip_and_not_before_conditions() -> None:
    cf = signer()
    policy = cf.build_policy(
        "http://127.0.0.1:8000/media/*", at(NOW + 60), date_greater_than=at(NOW - 10), ip_address="10.0.0.0/8"
    )
    url = cf.generate_presigned_url(BASE, policy=policy)
    verify(url, ip="10.1.2.3")
    with pytest.raises(SignatureRejected, match="client address"):
        verify(url, ip="127.0.0.1")
    with pytest.raises(SignatureRejected, match="not valid yet"):
        verify(url, now=NOW - 20, ip="10.1.2.3")
