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
    JsonWebKeySet,
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
from functions.shared.contract import PROTECTED, documented, link
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
    operation_id="register",
    summary="Create an account",
    tags=["auth"],
    responses=documented(
        201,
        UserEnvelope,
        "Created: sign in with `POST /auth/login`",
        body=True,
        errors={
            409: "The email is taken (`conflict`)",
            422: "A weak password (the rule is named in `details`) or invalid input (`validation_failed`)",
        },
    ),
)
def register(body: RegisterRequest) -> Response[str]:
    user = wiring.service().register(body)
    return json_response(HTTPStatus.CREATED, UserEnvelope(user=user).model_dump())


@app.post(
    f"{AUTH}/login",
    operation_id="login",
    summary="Sign in: an access token and a refresh token",
    tags=["auth"],
    responses=documented(
        200,
        TokenPair,
        "Signed in",
        body=True,
        errors={
            401: "Wrong email or password (`unauthenticated`)",
            429: "Too many sign-in attempts for this account or address (`throttled`); see `Retry-After`",
        },
    ),
)
def login(body: LoginRequest) -> TokenPair:
    # The viewer's address as CloudFront passes it on (the source address is the edge's). Trusted because
    # the API answers only requests that came through the CDN; the local front door sets it the same way.
    headers = {k.lower(): v for k, v in (app.current_event.headers or {}).items()}
    viewer_ip = throttle.viewer_ip(headers.get(VIEWER_ADDRESS_HEADER))
    return wiring.service().login(body.email, body.password, viewer_ip)


@app.post(
    f"{AUTH}/refresh",
    operation_id="refresh",
    summary="Trade a refresh token for a new pair (the old one is spent)",
    tags=["auth"],
    responses=documented(
        200,
        TokenPair,
        "A new pair",
        body=True,
        errors={401: "The refresh token is not valid, was already used, or its session ended"},
    ),
)
def refresh(body: RefreshRequest) -> TokenPair:
    return wiring.service().refresh(body.refresh_token)


@app.post(
    f"{AUTH}/logout",
    operation_id="logout",
    summary="End the session the refresh token belongs to",
    tags=["auth"],
    responses=documented(
        204,
        None,
        "Signed out (also for a token already spent or unknown)",
        body=True,
    ),
)
def logout(body: RefreshRequest) -> Response[str]:
    wiring.service().logout(body.refresh_token)
    return Response(status_code=HTTPStatus.NO_CONTENT, body="")


@app.get(
    f"{AUTH}/me",
    operation_id="getMe",
    summary="The signed-in account",
    tags=["auth"],
    responses=documented(
        200, UserOut, "The account", protected=True, errors={404: "The account no longer exists"}
    ),
    security=PROTECTED,
)
def me() -> UserOut:
    return wiring.service().me(_caller_id())


@app.post(
    f"{AUTH}/api-keys",
    operation_id="createApiKey",
    summary="Create an API key (the key is shown once)",
    tags=["api keys"],
    responses=documented(
        201,
        NewApiKeyOut,
        "Created: `key` is shown this once",
        links={"revokeApiKey": link("revokeApiKey", "Revoke the key just made", key_id="$response.body#/id")},
        body=True,
        protected=True,
        errors={422: "No scope, an unknown scope, or invalid input (`validation_failed`)"},
    ),
    security=PROTECTED,
)
def create_api_key(body: ApiKeyRequest) -> Response[str]:
    created: NewApiKeyOut = wiring.service().create_api_key(_caller_id(), body)
    return json_response(HTTPStatus.CREATED, created.model_dump())


@app.get(
    f"{AUTH}/api-keys",
    operation_id="listApiKeys",
    summary="Your API keys, without their secrets",
    tags=["api keys"],
    responses=documented(200, ApiKeyList, "Your keys (revoked ones left out)", protected=True),
    security=PROTECTED,
)
def list_api_keys() -> ApiKeyList:
    return ApiKeyList(items=wiring.service().list_api_keys(_caller_id()))


@app.delete(
    f"{AUTH}/api-keys/<key_id>",
    operation_id="revokeApiKey",
    summary="Revoke an API key",
    tags=["api keys"],
    responses=documented(204, None, "Revoked", path=True, protected=True),
    security=PROTECTED,
)
def revoke_api_key(key_id: str) -> Response[str]:
    wiring.service().revoke_api_key(_caller_id(), key_id)
    return Response(status_code=HTTPStatus.NO_CONTENT, body="")


@app.get(
    "/.well-known/jwks.json",
    operation_id="getJwks",
    summary="Public keys that verify access tokens",
    tags=["auth"],
    responses=documented(200, JsonWebKeySet, "The key set (cache it for 5 minutes)"),
)
def jwks() -> Response[str]:
    document = wiring.service().jwks()
    return json_response(HTTPStatus.OK, document, headers={"Cache-Control": "public, max-age=300"})


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, log_event=False)
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
