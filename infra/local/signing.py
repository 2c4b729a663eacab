"""CloudFront's signed-URL and signed-cookie check, so the local media path refuses what the CDN refuses.

A request is allowed when it carries a policy (canned: `Expires`; custom: `Policy`) signed with
RSA-SHA1 by the key whose id is `Key-Pair-Id`, the policy's `Resource` matches the URL (`*` and `?`
wildcards, as CloudFront allows), the time is inside `DateLessThan`/`DateGreaterThan`, and the client
is inside `IpAddress` when given. Query parameters or `CloudFront-*` cookies both work.
"""

from __future__ import annotations

import base64
import binascii
import fnmatch
import hashlib
import ipaddress
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

SIGNING_PARAMS = ("Expires", "Policy", "Signature", "Key-Pair-Id")


class SignatureRejected(Exception):  # noqa: N818 - reads as the outcome it is
    """Why CloudFront would answer 403 to this request."""


def _b64decode(value: str) -> bytes:
    try:
        return base64.b64decode(value.replace("-", "+").replace("_", "=").replace("~", "/"), validate=True)
    except (binascii.Error, ValueError):
        raise SignatureRejected("malformed signature encoding") from None


def key_id_for(public_key: rsa.RSAPublicKey) -> str:
    """A stable CloudFront-style key id for a local key (CloudFront assigns one when a key is uploaded)."""
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return "K" + hashlib.sha256(der).hexdigest()[:13].upper()


@dataclass(frozen=True)
class SignedRequest:
    url: str  # scheme://host/path?query without the signing parameters
    client_ip: str
    params: Mapping[str, str]  # Expires/Policy/Signature/Key-Pair-Id from query or cookies


def from_request(
    scheme: str, host: str, path: str, query: str, cookies: Mapping[str, str], client_ip: str
) -> SignedRequest:
    pairs = parse_qsl(query, keep_blank_values=True)
    params = {k: v for k, v in pairs if k in SIGNING_PARAMS}
    rest = [(k, v) for k, v in pairs if k not in SIGNING_PARAMS]
    if not params:
        params = {
            name: cookies[f"CloudFront-{name}"] for name in SIGNING_PARAMS if f"CloudFront-{name}" in cookies
        }
    url = f"{scheme}://{host}{path}" + (f"?{urlencode(rest)}" if rest else "")
    return SignedRequest(url, client_ip, params)


class Verifier:
    def __init__(self, public_keys: Mapping[str, rsa.RSAPublicKey]) -> None:
        self._keys = dict(public_keys)

    def verify(self, request: SignedRequest, now: float | None = None) -> None:
        """Return if CloudFront would serve the request; raise SignatureRejected with the reason if not."""
        now = time.time() if now is None else now
        params = request.params
        if "Signature" not in params or "Key-Pair-Id" not in params:
            raise SignatureRejected("missing signature: this media is not public")
        key = self._keys.get(params["Key-Pair-Id"])
        if key is None:
            raise SignatureRejected("unknown Key-Pair-Id")
        if "Policy" in params:
            policy_bytes = _b64decode(params["Policy"])
        elif "Expires" in params:
            policy_bytes = json.dumps(
                {
                    "Statement": [
                        {
                            "Resource": request.url,
                            "Condition": {"DateLessThan": {"AWS:EpochTime": int(params["Expires"])}},
                        }
                    ]
                },
                separators=(",", ":"),
            ).encode()
        else:
            raise SignatureRejected("missing Expires or Policy")
        try:
            key.verify(_b64decode(params["Signature"]), policy_bytes, padding.PKCS1v15(), hashes.SHA1())  # noqa: S303
        except InvalidSignature:
            raise SignatureRejected("signature does not match") from None
        self._check_policy(json.loads(policy_bytes), request, now)

    @staticmethod
    def _check_policy(policy: dict[str, Any], request: SignedRequest, now: float) -> None:
        statement = (policy.get("Statement") or [{}])[0]
        resource = statement.get("Resource", "")
        if not fnmatch.fnmatchcase(request.url, resource) and not fnmatch.fnmatchcase(
            request.url.split("?", 1)[0], resource
        ):
            raise SignatureRejected("the signature is for another resource")
        condition = statement.get("Condition", {})
        expires = condition.get("DateLessThan", {}).get("AWS:EpochTime")
        if expires is None:
            raise SignatureRejected("the policy has no expiry")
        if now >= int(expires):
            raise SignatureRejected("the signed URL has expired")
        not_before = condition.get("DateGreaterThan", {}).get("AWS:EpochTime")
        if not_before is not None and now <= int(not_before):
            raise SignatureRejected("the signed URL is not valid yet")
        source = condition.get("IpAddress", {}).get("AWS:SourceIp")
        if source and ipaddress.ip_address(request.client_ip) not in ipaddress.ip_network(
            source, strict=False
        ):
            raise SignatureRejected("the signed URL is for another client address")
