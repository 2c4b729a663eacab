"""The HTTP edge every API function shares: a resolver factory and the one error mapper.

Handlers stay thin: pydantic validation happens in the resolver, logic raises domain errors, and
this module turns each error into `{"error": {"code", "message", "details"}}` with the right status.
"""

from __future__ import annotations

import base64
import json
import re
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.exceptions import ServiceError
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from botocore.exceptions import BotoCoreError, ClientError

from functions.shared import errors, origin
from functions.shared.observability import logger
from functions.shared.principal import enforce_route_scope

_STATUS: dict[type[errors.SkyreelError], HTTPStatus] = {
    errors.MalformedRequestError: HTTPStatus.BAD_REQUEST,
    errors.UnauthenticatedError: HTTPStatus.UNAUTHORIZED,
    errors.ForbiddenError: HTTPStatus.FORBIDDEN,
    errors.NotFoundError: HTTPStatus.NOT_FOUND,
    errors.ConflictError: HTTPStatus.CONFLICT,
    errors.PayloadTooLargeError: HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
    errors.UnsupportedMediaTypeError: HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
    errors.ValidationFailedError: HTTPStatus.UNPROCESSABLE_ENTITY,
    errors.ThrottledError: HTTPStatus.TOO_MANY_REQUESTS,
    errors.DependencyUnavailableError: HTTPStatus.SERVICE_UNAVAILABLE,
}


# A 5xx answer says what failed in our words; what AWS said (codes, messages naming account ids, role
# ARNs and resource names) goes to the log only.
INTERNAL_ERROR_MESSAGE = "Something went wrong on our side; it has been logged."
UNAVAILABLE_MESSAGE = "A service we depend on did not answer; try again shortly."
_AWS_DETAIL = re.compile(r"arn:aws[\w-]*:|\b\d{12}\b")


def _aws_causes(error: BaseException) -> list[BaseException]:
    causes: list[BaseException] = []
    seen: set[int] = set()
    current: BaseException | None = error.__cause__ or error.__context__
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ClientError | BotoCoreError):
            causes.append(current)
        current = current.__cause__ or current.__context__
    return causes


def _aws_fragments(cause: BaseException) -> list[str]:
    if isinstance(cause, ClientError):
        err = cause.response.get("Error", {})
        return [str(err.get("Code", "")), str(err.get("Message", "")), str(cause)]
    return [str(cause), type(cause).__name__]


def public_message(error: errors.SkyreelError, status: HTTPStatus) -> str:
    """The message a caller may see. A server-side failure's message must not repeat what AWS said: if it
    does (an error code, an ARN, an account id), the caller gets a generic message instead."""
    if status < HTTPStatus.INTERNAL_SERVER_ERROR:
        return error.message
    fragments = [f for cause in _aws_causes(error) for f in _aws_fragments(cause) if len(f) >= 3]
    if _AWS_DETAIL.search(error.message) or any(f in error.message for f in fragments):
        return UNAVAILABLE_MESSAGE
    return error.message


def status_for(error: errors.SkyreelError) -> HTTPStatus:
    for cls in type(error).__mro__:
        if cls in _STATUS:
            return _STATUS[cls]
    return HTTPStatus.INTERNAL_SERVER_ERROR


def error_response(
    status: HTTPStatus,
    code: str,
    message: str,
    details: list[Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response[str]:
    body = {"error": {"code": code, "message": message, "details": details or []}}
    return Response(
        status_code=status, content_type="application/json", body=json.dumps(body), headers=headers
    )


def json_response(status: HTTPStatus, body: Any, headers: dict[str, str] | None = None) -> Response[str]:
    return Response(
        status_code=status,
        content_type="application/json",
        body=json.dumps(body, default=str),
        headers=headers,
    )


def _validation_details(exc: RequestValidationError) -> list[dict[str, Any]]:
    return [
        {
            "location": ".".join(str(p) for p in err.get("loc", ())),
            "message": err.get("msg", ""),
            "type": err.get("type", ""),
        }
        for err in exc.errors()
    ]


def _not_json(app: APIGatewayRestResolver) -> str | None:
    """The content type of a body sent as something other than JSON (curl -d sends a form), else None."""
    event = app.current_event
    headers = {k.lower(): v for k, v in (event.headers or {}).items()}
    content_type = headers.get("content-type", "")
    return content_type if event.body and content_type and "json" not in content_type.lower() else None


def _media_type_refused(content_type: str) -> Response[str]:
    return error_response(
        HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
        errors.UnsupportedMediaTypeError.code,
        f"Send the body as JSON with `Content-Type: application/json` (got {content_type!r}).",
    )


def _body_is_utf8(app: APIGatewayRestResolver) -> bool:
    event = app.current_event
    if not event.body or not event.is_base64_encoded:
        return True
    try:
        base64.b64decode(event.body).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return False
    return True


def _check_origin(app: APIGatewayRestResolver) -> None:
    if not origin.verified(app.current_event.headers):
        logger.warning("refused: no valid origin header", extra={"path": app.current_event.path})
        raise errors.ForbiddenError("Call the API through its public URL.")


def _check_caller(app: APIGatewayRestResolver) -> None:
    """What every request passes before its handler: it came through the CDN (functions/shared/origin.py),
    and its caller holds the route's scope (the authorizer's policy is the first line; this is the second,
    from the same ROUTE_SCOPES)."""
    _check_origin(app)
    enforce_route_scope(app.current_event.raw_event)


def _refused_caller(app: APIGatewayRestResolver) -> Response[str] | None:
    """The answer to a caller the checks refuse, else None. powertools parses and validates the body before
    any middleware runs, so an answer about the body first runs the caller checks: a caller outside the
    CDN, or without the route's scope, learns nothing about the body's shape."""
    try:
        _check_caller(app)
    except (errors.ForbiddenError, errors.UnauthenticatedError) as refused:
        return error_response(status_for(refused), refused.code, refused.message)
    return None


def _internal_error() -> Response[str]:
    logger.exception("unhandled error")
    return error_response(HTTPStatus.INTERNAL_SERVER_ERROR, errors.SkyreelError.code, INTERNAL_ERROR_MESSAGE)


def _checked_caller(app: APIGatewayRestResolver, next_middleware: NextMiddleware) -> Response[Any]:
    _check_caller(app)
    return next_middleware(app)


def create_resolver() -> APIGatewayRestResolver:
    """An API Gateway (REST) resolver with pydantic validation and Skyreel's error contract."""
    app = APIGatewayRestResolver(enable_validation=True)
    app.use(middlewares=[_checked_caller])

    @app.exception_handler(errors.SkyreelError)
    def _domain_error(exc: errors.SkyreelError) -> Response[str]:
        status = status_for(exc)
        headers = {"Retry-After": str(exc.retry_after_s)} if isinstance(exc, errors.ThrottledError) else None
        if status >= HTTPStatus.INTERNAL_SERVER_ERROR:
            causes = [repr(cause) for cause in _aws_causes(exc)]
            logger.warning(
                "request failed", extra={"code": exc.code, "reason": exc.message, "causes": causes}
            )
        return error_response(status, exc.code, public_message(exc, status), exc.details, headers)

    @app.exception_handler(RequestValidationError)
    def _invalid_request(exc: RequestValidationError) -> Response[str]:
        # powertools validates before any middleware runs: a caller outside the CDN, or without the route's
        # scope, learns nothing about the body's shape here either.
        refused = _refused_caller(app)
        if refused is not None:
            return refused
        # powertools parses a form body as a form and reports every field missing: say what is wrong instead.
        content_type = _not_json(app)
        if content_type:
            return _media_type_refused(content_type)
        details = _validation_details(exc)
        # A body that is not JSON at all is malformed (400); JSON of the wrong shape is invalid (422).
        if any(d["type"] == "json_invalid" for d in details):
            return error_response(
                HTTPStatus.BAD_REQUEST,
                errors.MalformedRequestError.code,
                "The request body is not valid JSON.",
                details,
            )
        return error_response(
            HTTPStatus.UNPROCESSABLE_ENTITY,
            errors.ValidationFailedError.code,
            "The request did not pass validation.",
            details,
        )

    @app.exception_handler(RequestUnsupportedContentType)
    def _unsupported_body(exc: RequestUnsupportedContentType) -> Response[str]:
        # powertools parses JSON and forms; a body of any other type stops it before validation.
        return _refused_caller(app) or _media_type_refused(_not_json(app) or "")

    @app.exception_handler(ValueError)
    def _unparsable_body(exc: ValueError) -> Response[str]:
        # powertools raises a bare ValueError for a body it cannot start to parse (multipart/form-data
        # without a boundary); anywhere else a ValueError is our bug.
        content_type = _not_json(app)
        if content_type is None:
            return _internal_error()
        return _refused_caller(app) or _media_type_refused(content_type)

    @app.exception_handler(UnicodeDecodeError)
    def _not_utf8(exc: UnicodeDecodeError) -> Response[str]:
        # API Gateway passes a body that is not UTF-8 base64-encoded, and powertools' decoded_body raises
        # this while validating it: the caller sent bytes no JSON can be, so it is their 400.
        if _body_is_utf8(app):
            return _internal_error()  # our own decoding bug, not the caller's
        return _refused_caller(app) or error_response(
            HTTPStatus.BAD_REQUEST,
            errors.MalformedRequestError.code,
            "The request body is not UTF-8 text, so it cannot be JSON.",
        )

    @app.exception_handler(ServiceError)
    def _service_error(exc: ServiceError) -> Response[str]:
        status = HTTPStatus(exc.status_code)
        return error_response(status, status.phrase.lower().replace(" ", "_"), str(exc.msg))

    @app.not_found
    def _no_route(_: Exception) -> Response[str]:
        return error_response(
            HTTPStatus.NOT_FOUND,
            errors.NotFoundError.code,
            f"No route for {app.current_event.http_method} {app.current_event.path}.",
        )

    @app.exception_handler(Exception)
    def _unexpected(exc: Exception) -> Response[str]:
        return _internal_error()

    return app
