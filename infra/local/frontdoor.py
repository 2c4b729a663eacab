"""The local CloudFront: one origin with the deployed path layout.

- `/api/*` (every API prefix) -> API Gateway semantics (`gateway.py`) -> the function's sandbox;
- `/media/*` -> the media bucket, with byte ranges and CORS: `/media/public/...` to anyone,
  `/media/s/<token>/hls/<id>/...` only with a valid playback token (the same check as the CloudFront
  Function, functions/shared/media_token.py), any other path 403;
- everything else -> the dashboard's build, `web/dist/` (`make web`), served from disk so a rebuild shows on reload.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping
from http import HTTPStatus
from pathlib import Path
from typing import Any

import anyio
from botocore.exceptions import ClientError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

from functions.shared import origin
from functions.shared.media_token import TokenRejected, media_key
from infra.local.gateway import ApiGateway, HttpRequest
from infra.local.uploads import PREFIX as UPLOADS_PREFIX
from infra.local.uploads import PresignedUploads
from infra.model import Bucket, Media

log = logging.getLogger("skyreel.local.frontdoor")

_CHUNK = 1024 * 1024

AccessLog = Callable[[str], None]


def _viewer_address(request: Request) -> str:
    """`ip:port` of the client, as CloudFront's CloudFront-Viewer-Address header gives it."""
    return f"{request.client.host}:{request.client.port}" if request.client else "127.0.0.1:0"


class _ApiFirst:
    """Every request under an API prefix goes to the gateway, whatever its method and whatever bytes its path
    holds (a Starlette route matches neither TRACE nor a decoded newline, and the static mount would answer
    in text/plain); CloudFront sends the whole prefix to API Gateway the same way. The rest is the site."""

    def __init__(self, front: FrontDoor, site: Starlette) -> None:
        self.front, self.site = front, site

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and str(scope["path"]).startswith(self.front.gateway.api.prefixes):
            response = await self.front.api(Request(scope, receive))
            await response(scope, receive, send)
            return
        await self.site(scope, receive, send)


class FrontDoor:
    def __init__(
        self,
        gateway: ApiGateway,
        *,
        media: Media | None,
        media_bucket: Bucket | None,
        media_bucket_name: str | None,
        s3: Any,
        media_keys: Mapping[str, str],
        web_root: Path,
        access_log: AccessLog,
        origin_secret: str | None = None,
        uploads: PresignedUploads | None = None,
    ) -> None:
        self.gateway = gateway
        # As CloudFront's origin custom header: added to every API request, replacing a viewer's own.
        self.origin_headers = [(origin.HEADER.lower(), origin_secret)] if origin_secret else []
        self.cdn_header_names = frozenset({"cloudfront-viewer-address", origin.HEADER.lower()})
        self.media = media
        self.media_bucket = media_bucket
        self.media_bucket_name = media_bucket_name
        self.s3 = s3
        self.media_keys = media_keys  # playback token keys by id, as CloudFront's key value store holds them
        self.access_log = access_log
        # API calls block on a sandbox; run them on threads with a bound wide enough for bursts.
        self.limiter = anyio.CapacityLimiter(64)
        routes: list[Route | Mount] = []
        if media is not None:
            routes.append(
                Route(
                    f"{media.path_prefix.rstrip('/')}/{{key:path}}",
                    self.media_object,
                    methods=["GET", "HEAD", "OPTIONS"],
                )
            )
        if uploads is not None:  # S3 presigned uploads, checked as S3 checks them (uploads.py)
            routes.append(
                Route(f"{UPLOADS_PREFIX}/{{rest:path}}", uploads.handle, methods=["PUT", "OPTIONS"])
            )
        web_root.mkdir(parents=True, exist_ok=True)
        routes.append(Mount("/", StaticFiles(directory=web_root, html=True)))
        self.app = _ApiFirst(self, Starlette(routes=routes))

    async def api(self, request: Request) -> Response:
        started = time.perf_counter()
        http_request = HttpRequest(
            method=request.method,
            path=request.url.path,
            # As CloudFront does: the headers it sets replace any a viewer sent under the same names.
            headers=[
                (k.decode("latin-1"), v.decode("latin-1"))
                for k, v in request.headers.raw
                if k.decode("latin-1").lower() not in self.cdn_header_names
            ]
            + [("cloudfront-viewer-address", _viewer_address(request)), *self.origin_headers],
            query=[(k, v) for k, v in request.query_params.multi_items()],
            body=await request.body(),
            source_ip=request.client.host if request.client else "127.0.0.1",
            host=request.headers.get("host", ""),
        )
        result = await anyio.to_thread.run_sync(self.gateway.handle, http_request, limiter=self.limiter)
        self.access_log(
            f"{request.method} {request.url.path} {result.status} "
            f"{(time.perf_counter() - started) * 1000:.1f}ms {result.function or '-'}"
        )
        response = Response(result.body, status_code=result.status)
        del response.headers["content-length"]
        response.raw_headers.extend((k.encode("latin-1"), v.encode("latin-1")) for k, v in result.headers)
        response.headers["content-length"] = str(len(result.body))
        return response

    def _cors_headers(self, request: Request) -> dict[str, str]:
        cors = self.media_bucket.cors if self.media_bucket else None
        origin = request.headers.get("origin")
        if cors is None or origin is None:
            return {}
        if "*" not in cors.allowed_origins and origin not in cors.allowed_origins:
            return {}
        return {
            "access-control-allow-origin": "*" if "*" in cors.allowed_origins else origin,
            "access-control-allow-methods": ", ".join(cors.allowed_methods),
            "access-control-allow-headers": ", ".join(cors.allowed_headers),
            "access-control-expose-headers": ", ".join(cors.exposed_headers),
            "access-control-max-age": str(cors.max_age_s),
        }

    async def media_object(self, request: Request) -> Response:
        assert self.media is not None
        cors = self._cors_headers(request)
        if request.method == "OPTIONS":
            return Response(status_code=HTTPStatus.OK if cors else HTTPStatus.FORBIDDEN, headers=cors)
        try:
            key = self._object_key(request)
        except TokenRejected as exc:
            self.access_log(f"{request.method} {request.url.path} 403 media ({exc})")
            return Response(
                f"<Error><Code>AccessDenied</Code><Message>{exc}</Message></Error>",
                status_code=HTTPStatus.FORBIDDEN,
                media_type="application/xml",
                headers=cors,
            )
        return await self._serve_object(request, key, cors)

    def _object_key(self, request: Request) -> str:
        """The media key a request may read, from its path as received (never from its Host), by the same
        rule as the CloudFront Function: public keys, token paths checked and stripped, nothing else."""
        assert self.media is not None
        raw = request.scope.get("raw_path") or request.url.path.encode()
        path = raw.decode("latin-1")
        if not path.startswith(self.media.path_prefix):
            raise TokenRejected("not a media path")
        return media_key(path[len(self.media.path_prefix) :], self.media_keys)

    async def _serve_object(self, request: Request, key: str, cors: dict[str, str]) -> Response:
        params: dict[str, Any] = {"Bucket": self.media_bucket_name, "Key": key}
        if "range" in request.headers:
            params["Range"] = request.headers["range"]
        for header, param in (("if-none-match", "IfNoneMatch"), ("if-match", "IfMatch")):
            if header in request.headers:
                params[param] = request.headers[header]
        call = self.s3.head_object if request.method == "HEAD" else self.s3.get_object
        try:
            obj = await anyio.to_thread.run_sync(lambda: call(**params))
        except ClientError as exc:
            status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 500))
            code = exc.response.get("Error", {}).get("Code", "Error")
            if code in {"NoSuchKey", "404", "NotFound"}:
                status = HTTPStatus.NOT_FOUND
            self.access_log(f"{request.method} {request.url.path} {status} media")
            return Response(status_code=status, headers=cors)
        status = HTTPStatus.PARTIAL_CONTENT if "ContentRange" in obj else HTTPStatus.OK
        headers = {
            **cors,
            "accept-ranges": "bytes",
            "content-type": obj.get("ContentType") or "application/octet-stream",
            "content-length": str(obj["ContentLength"]),
            "etag": obj.get("ETag", ""),
            "last-modified": obj["LastModified"].strftime("%a, %d %b %Y %H:%M:%S GMT"),
        }
        if obj.get("CacheControl"):
            headers["cache-control"] = obj["CacheControl"]
        if "ContentRange" in obj:
            headers["content-range"] = obj["ContentRange"]
        self.access_log(f"{request.method} {request.url.path} {int(status)} media")
        if request.method == "HEAD":
            return Response(status_code=status, headers=headers)
        body = obj["Body"]

        async def chunks() -> AsyncIterator[bytes]:
            try:
                while chunk := await anyio.to_thread.run_sync(body.read, _CHUNK):
                    yield chunk
            finally:
                body.close()

        return StreamingResponse(chunks(), status_code=status, headers=headers)
