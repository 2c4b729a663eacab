"""HTTP entry of the platform function: GET /api/v1/health, /api/v1/openapi.json, /api/v1/docs."""

# No `from __future__ import annotations` here: powertools reads route annotations at runtime.
import functools
from concurrent.futures import ThreadPoolExecutor
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.platform import health, openapi, probes
from functions.platform.models import HealthOut
from functions.platform.settings import PlatformSettings
from functions.shared.api import create_resolver, json_response
from functions.shared.config import granted_resources
from functions.shared.contract import documented
from functions.shared.observability import logger, tracer
from functions.shared.vocabulary import API_PREFIX

app = create_resolver()
_pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="health")


Settings = PlatformSettings  # this function's environment (functions/platform/settings.py)


@functools.cache
def _settings() -> PlatformSettings:
    return Settings.from_environment()


@functools.cache
def _cache() -> health.CachedHealth:
    return health.CachedHealth(_settings().health_cache_ttl_s)


@app.get(
    f"{API_PREFIX}/health",
    operation_id="getHealth",
    summary="Health of every dependency",
    responses=documented(
        200,
        HealthOut,
        "All dependencies answer",
        also={503: (HealthOut, "A dependency is down; its check is named (the reason is only logged)")},
    ),
)
@tracer.capture_method
def get_health() -> Response[str]:
    report = _cache().get(lambda: health.check_all(granted_resources(), probes.probe_for, _pool))
    if not report.healthy:
        logger.warning("unhealthy", extra={"failing": report.failures()})
    return json_response(
        HTTPStatus.OK if report.healthy else HTTPStatus.SERVICE_UNAVAILABLE,
        report.as_dict(),
        headers={"Cache-Control": "no-store"},
    )


@app.get(
    f"{API_PREFIX}/openapi.json", summary="The OpenAPI document of the whole API", include_in_schema=False
)
def get_openapi() -> Response[str]:
    return Response(
        status_code=HTTPStatus.OK, content_type="application/json", body=openapi.merged_schema_json()
    )


@app.get(f"{API_PREFIX}/docs", summary="Swagger UI for the whole API", include_in_schema=False)
def get_docs() -> Response[str]:
    return Response(status_code=HTTPStatus.OK, content_type="text/html", body=openapi.swagger_html())


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, log_event=False)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    _settings()  # the whole environment, checked on the sandbox's first invocation
    return app.resolve(event, context)
