"""The local S3 endpoint for presigned uploads: S3's signature checks in front of moto, on the front door's port.

moto accepts any presigned request, signed or not; S3 refuses one whose signature does not match, that
has expired, or whose signed headers (Content-Length and Content-Type, for our upload URLs) differ from
what was signed. So locally, presigned upload URLs point here (`S3_PUBLIC_ENDPOINT_URL`, path-style under
PREFIX): each PUT is checked the way S3 checks it, recomputing the SigV4 query signature with botocore's
own signer and the local cloud's credentials, and only then forwarded to moto (a single PUT, or a
multipart UploadPart with `partNumber` and `uploadId`). Refusals are S3's XML errors.

Served from the front door's port, which stays the same across restarts (moto's changes every start),
so a URL issued before a restart (valid up to 24 h) still works after it.
"""

from __future__ import annotations

import datetime as dt
import hmac
import logging
import tempfile
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import IO, Any
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

import anyio
import urllib3
from botocore.auth import S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from starlette.requests import Request
from starlette.responses import Response

from infra.model import Bucket, Cors

log = logging.getLogger("skyreel.local.uploads")

PREFIX = "/_s3"  # path-style: /_s3/<bucket>/<key>
MAX_EXPIRES_S = 7 * 24 * 3600  # S3's limit for SigV4 presigned URLs
CLOCK_SKEW_S = 15 * 60  # S3 refuses a request dated further in the future than this
_SPOOL_BYTES = 8 * 1024 * 1024
_FORWARDED = ("content-type", "content-length", "content-md5", "cache-control", "content-disposition")

AccessLog = Callable[[str], None]


class RefusedError(Exception):
    """What S3 answers instead of storing the bytes."""

    def __init__(self, status: HTTPStatus, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass(frozen=True)
class SignedRequest:
    """A presigned request as received: what S3 needs to check it."""

    method: str
    host: str
    raw_path: str  # percent-encoded, as sent
    raw_query: str
    headers: Sequence[tuple[str, str]]  # lower-case names, repeated names kept


def _param(params: Mapping[str, str], name: str) -> str:
    if name not in params:
        raise RefusedError(
            HTTPStatus.BAD_REQUEST,
            "AuthorizationQueryParametersError",
            f"Query-string authentication version 4 requires the {name} parameter.",
        )
    return params[name]


def verify(request: SignedRequest, credentials: Credentials, region: str, now: dt.datetime) -> None:
    """Raise `RefusedError` unless S3 would accept this presigned request (SigV4, query-string authentication)."""
    params = dict(parse_qsl(request.raw_query, keep_blank_values=True))
    if "X-Amz-Signature" not in params:
        raise RefusedError(HTTPStatus.FORBIDDEN, "AccessDenied", "Access Denied")
    if _param(params, "X-Amz-Algorithm") != "AWS4-HMAC-SHA256":
        raise RefusedError(
            HTTPStatus.BAD_REQUEST,
            "AuthorizationQueryParametersError",
            "X-Amz-Algorithm only supports AWS4-HMAC-SHA256.",
        )
    access_key = _param(params, "X-Amz-Credential").split("/", 1)[0]
    if access_key != credentials.access_key:
        raise RefusedError(
            HTTPStatus.FORBIDDEN,
            "InvalidAccessKeyId",
            "The AWS Access Key Id you provided does not exist in our records.",
        )
    amz_date = _param(params, "X-Amz-Date")
    try:
        signed_at = dt.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
        expires_s = int(_param(params, "X-Amz-Expires"))
    except ValueError:
        raise RefusedError(
            HTTPStatus.BAD_REQUEST,
            "AuthorizationQueryParametersError",
            "X-Amz-Date or X-Amz-Expires is malformed.",
        ) from None
    if not 0 < expires_s <= MAX_EXPIRES_S:
        raise RefusedError(
            HTTPStatus.BAD_REQUEST,
            "AuthorizationQueryParametersError",
            "X-Amz-Expires must be less than a week (in seconds) that is 604800.",
        )
    if now > signed_at + dt.timedelta(seconds=expires_s):
        raise RefusedError(HTTPStatus.FORBIDDEN, "AccessDenied", "Request has expired")
    if signed_at > now + dt.timedelta(seconds=CLOCK_SKEW_S):
        raise RefusedError(HTTPStatus.FORBIDDEN, "AccessDenied", "Request is not yet valid")

    signed_names = _param(params, "X-Amz-SignedHeaders").split(";")
    received: dict[str, list[str]] = {}
    for name, value in request.headers:
        received.setdefault(name.lower(), []).append(value)
    unsigned = sorted(n for n in received if n.startswith("x-amz-") and n not in signed_names)
    if unsigned or "host" not in signed_names:
        raise RefusedError(
            HTTPStatus.FORBIDDEN,
            "AccessDenied",
            "There were headers present in the request which were not signed",
        )
    expected = _signature(request, signed_names, received, credentials, region, amz_date, expires_s)
    if not hmac.compare_digest(expected.encode(), params["X-Amz-Signature"].encode()):
        raise RefusedError(
            HTTPStatus.FORBIDDEN,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided. "
            "Check your key and signing method.",
        )


def _signature(
    request: SignedRequest,
    signed_names: list[str],
    received: Mapping[str, list[str]],
    credentials: Credentials,
    region: str,
    amz_date: str,
    expires_s: int,
) -> str:
    """The signature S3 computes: botocore's own query signer over the request as received (the signed
    headers with the values that arrived; a header that was signed but did not arrive counts as empty)."""
    query = "&".join(p for p in request.raw_query.split("&") if not p.startswith("X-Amz-Signature="))
    aws_request = AWSRequest(method=request.method, url=f"http://{request.host}{request.raw_path}?{query}")
    for name in signed_names:
        aws_request.headers[name] = ",".join(received.get(name, [""]))
    aws_request.context["timestamp"] = amz_date
    signer = S3SigV4QueryAuth(credentials, "s3", region, expires=expires_s)
    canonical = signer.canonical_request(aws_request)
    signature: str = signer.signature(signer.string_to_sign(aws_request, canonical), aws_request)
    return signature


def error_response(
    refused: RefusedError, resource: str, headers: Mapping[str, str] | None = None
) -> Response:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{escape(refused.code)}</Code><Message>{escape(refused.message)}</Message>"
        f"<Resource>{escape(resource)}</Resource><RequestId>{uuid.uuid4().hex[:16].upper()}</RequestId></Error>"
    )
    return Response(
        body, status_code=refused.status, media_type="application/xml", headers=dict(headers or {})
    )


def cors_headers(cors: Cors | None, origin: str | None, method: str) -> dict[str, str]:
    """The bucket's CORS rule applied to one request, as S3 applies it (empty when it does not match)."""
    if cors is None or origin is None or method not in cors.allowed_methods:
        return {}
    if "*" not in cors.allowed_origins and origin not in cors.allowed_origins:
        return {}
    return {
        "access-control-allow-origin": "*" if "*" in cors.allowed_origins else origin,
        "access-control-allow-methods": ", ".join(cors.allowed_methods),
        "access-control-expose-headers": ", ".join(cors.exposed_headers),
        "access-control-max-age": str(cors.max_age_s),
        "vary": "Origin, Access-Control-Request-Headers, Access-Control-Request-Method",
    }


def _headers_allowed(cors: Cors, requested: str) -> bool:
    wanted = [h.strip().lower() for h in requested.split(",") if h.strip()]
    allowed = [h.lower() for h in cors.allowed_headers]
    return "*" in allowed or all(h in allowed for h in wanted)


class PresignedUploads:
    """The Starlette endpoint under PREFIX: CORS preflights, and checked PUTs forwarded to moto."""

    def __init__(
        self,
        buckets: Mapping[str, Bucket],  # by the bucket's local name
        aws_endpoint: str,
        credentials: Credentials,
        region: str,
        access_log: AccessLog,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.buckets = dict(buckets)
        self.aws_endpoint = aws_endpoint.rstrip("/")
        self.credentials = credentials
        self.region = region
        self.access_log = access_log
        self.clock = clock
        self._http = urllib3.PoolManager(maxsize=16, retries=False)

    async def handle(self, request: Request) -> Response:
        raw_path = request.scope.get("raw_path", request.url.path.encode()).decode("latin-1")
        object_path = raw_path[len(PREFIX) :]  # "/<bucket>/<key>", still percent-encoded
        bucket_name, _, key = object_path.lstrip("/").partition("/")
        bucket = self.buckets.get(bucket_name)
        cors = bucket.cors if bucket else None
        origin = request.headers.get("origin")
        if bucket is None or not key:
            refused = RefusedError(
                HTTPStatus.NOT_FOUND, "NoSuchBucket", "The specified bucket does not exist"
            )
            return self._refuse(request, refused, object_path, {})
        if request.method == "OPTIONS":
            return self._preflight(request, cors, object_path)
        cors_reply = cors_headers(cors, origin, request.method)
        signed = SignedRequest(
            method=request.method,
            host=request.headers.get("host", ""),
            raw_path=raw_path,
            raw_query=request.scope.get("query_string", b"").decode("latin-1"),
            headers=[(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in request.headers.raw],
        )
        try:
            verify(signed, self.credentials, self.region, self.clock())
        except RefusedError as refused:
            return self._refuse(request, refused, object_path, cors_reply)
        return await self._forward(request, signed, object_path, cors_reply)

    def _refuse(
        self, request: Request, refused: RefusedError, resource: str, cors: dict[str, str]
    ) -> Response:
        self.access_log(f"{request.method} {PREFIX}{resource} {int(refused.status)} s3 ({refused.code})")
        return error_response(refused, resource, cors)

    def _preflight(self, request: Request, cors: Cors | None, resource: str) -> Response:
        method = request.headers.get("access-control-request-method", "")
        headers = cors_headers(cors, request.headers.get("origin"), method)
        requested = request.headers.get("access-control-request-headers", "")
        if not headers or cors is None or not _headers_allowed(cors, requested):
            refused = RefusedError(
                HTTPStatus.FORBIDDEN, "AccessForbidden", "CORSResponse: This CORS request is not allowed."
            )
            return self._refuse(request, refused, resource, {})
        if requested:
            headers["access-control-allow-headers"] = requested
        self.access_log(f"OPTIONS {PREFIX}{resource} 200 s3 (preflight)")
        return Response(status_code=HTTPStatus.OK, headers=headers)

    async def _forward(
        self, request: Request, signed: SignedRequest, resource: str, cors: dict[str, str]
    ) -> Response:
        """The checked request, to moto (which ignores signatures): the same path, query and body."""
        with tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES) as body:
            async for chunk in request.stream():
                await anyio.to_thread.run_sync(body.write, chunk)
            size = body.tell()
            body.seek(0)
            headers = {k: v for k, v in signed.headers if k in _FORWARDED or k.startswith("x-amz-")}
            headers["content-length"] = str(size)
            url = f"{self.aws_endpoint}{resource}?{signed.raw_query}"
            answer = await anyio.to_thread.run_sync(self._put, url, headers, body)
        reply = {**cors}
        for name in ("etag", "content-type", "x-amz-request-id"):
            if name in answer.headers:
                reply[name] = answer.headers[name]
        self.access_log(f"{request.method} {PREFIX}{resource} {answer.status} s3 ({size} bytes)")
        return Response(answer.data, status_code=answer.status, headers=reply)

    def _put(self, url: str, headers: dict[str, str], body: IO[bytes]) -> Any:
        return self._http.request("PUT", url, body=body, headers=headers, preload_content=True)


def public_endpoint(front_door_url: str) -> str:
    """What the functions presign with (S3_PUBLIC_ENDPOINT_URL): this endpoint on the front door."""
    return f"{front_door_url.rstrip('/')}{PREFIX}"
