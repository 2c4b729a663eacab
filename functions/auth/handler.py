"""HTTP entry of the auth function: registration, sessions, the caller's account and API keys, JWKS."""

# No `from __future__ import annotations` here: powertools reads route annotations at runtime.
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.auth import throttle, wiring
from functions.auth.models import (
    ApiKeyList,
    ApiKeyRequest,
    LoginRequest,
    NewApiKeyOut,
    RefreshRequest,
    RegisterRequest,
    TokenPair,
    UserEnvelope,
    UserOut,
)
from functions.auth.settings import AuthSettings
from functions.shared.api import create_resolver, json_response
from functions.shared.observability import logger, metrics, tracer
from functions.shared.principal import caller_from
from functions.shared.vocabulary import API_PREFIX

Settings = AuthSettings
app = create_resolver()
AUTH = f"{API_PREFIX}/auth"
VIEWER_ADDRESS_HEADER = "cloudfront-viewer-address"


def _caller_id() -> str:
    return caller_from(app.current_event.request_context.raw_event).user_id


@app.post(
    f"{AUTH}/register",
    summary="Create an account",
    tags=["auth"],
    responses={
        201: {"description": "Created"},
        409: {"description": "Email taken"},
        422: {"description": "Weak password or invalid input"},
    },
)
def register(body: RegisterRequest) -> Response[str]:
    user = wiring.service().register(body)
    return json_response(HTTPStatus.CREATED, UserEnvelope(user=user).model_dump())


@app.post(f"{AUTH}/login", summary="Sign in: an access token and a refresh token", tags=["auth"])
def login(body: LoginRequest) -> TokenPair:
    # The viewer's address as CloudFront passes it on (the source address is the edge's). Trusted because
    # the API answers only requests that came through the CDN; the local front door sets it the same way.
    headers = {k.lower(): v for k, v in (app.current_event.headers or {}).items()}
    viewer_ip = throttle.viewer_ip(headers.get(VIEWER_ADDRESS_HEADER))
    return wiring.service().login(body.email, body.password, viewer_ip)


@app.post(
    f"{AUTH}/refresh", summary="Trade a refresh token for a new pair (the old one is spent)", tags=["auth"]
)
def refresh(body: RefreshRequest) -> TokenPair:
    return wiring.service().refresh(body.refresh_token)


@app.post(f"{AUTH}/logout", summary="End the session the refresh token belongs to", tags=["auth"])
def logout(body: RefreshRequest) -> Response[str]:
    wiring.service().logout(body.refresh_token)
    return Response(status_code=HTTPStatus.NO_CONTENT, body="")


@app.get(f"{AUTH}/me", summary="The signed-in account", tags=["auth"])
def me() -> UserOut:
    return wiring.service().me(_caller_id())


@app.post(
    f"{AUTH}/api-keys",
    summary="Create an API key (the key is shown once)",
    tags=["api keys"],
    responses={201: {"description": "Created"}},
)
def create_api_key(body: ApiKeyRequest) -> Response[str]:
    created: NewApiKeyOut = wiring.service().create_api_key(_caller_id(), body)
    return json_response(HTTPStatus.CREATED, created.model_dump())


@app.get(f"{AUTH}/api-keys", summary="Your API keys, without their secrets", tags=["api keys"])
def list_api_keys() -> ApiKeyList:
    return ApiKeyList(items=wiring.service().list_api_keys(_caller_id()))


@app.delete(f"{AUTH}/api-keys/<key_id>", summary="Revoke an API key", tags=["api keys"])
def revoke_api_key(key_id: str) -> Response[str]:
    wiring.service().revoke_api_key(_caller_id(), key_id)
    return Response(status_code=HTTPStatus.NO_CONTENT, body="")


@app.get("/.well-known/jwks.json", summary="Public keys that verify access tokens", tags=["auth"])
def jwks() -> Response[str]:
    document = wiring.service().jwks()
    return json_response(HTTPStatus.OK, document, headers={"Cache-Control": "public, max-age=300"})


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, log_event=False)
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
