"""HTTP entry of the search function: `GET /search`, synchronous, over the embedded index."""

# No `from __future__ import annotations` here: powertools reads route annotations at runtime.
from http import HTTPStatus
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.search import wiring
from functions.search.models import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    MAX_QUERY_CHARS,
    Algorithm,
    CreateJobRequest,
    JobAccepted,
    JobList,
    JobOut,
    SearchResults,
)
from functions.search.settings import SearchApiSettings
from functions.shared.api import create_resolver, json_response
from functions.shared.observability import logger, metrics, tracer
from functions.shared.principal import Caller, caller_from
from functions.shared.vocabulary import API_PREFIX

Settings = SearchApiSettings
app = create_resolver()
SEARCH = f"{API_PREFIX}/search"
JOBS = f"{SEARCH}/jobs"

ERRORS: dict[int, OpenAPIResponse] = {
    401: {"description": "No valid credentials (`unauthenticated`)"},
    403: {"description": "These credentials lack the `search` scope (`forbidden`)"},
    422: {
        "description": "An empty or over-long query, one with control characters or no letter or digit, "
        "an unknown algorithm, or a limit out of range (`validation_failed`)"
    },
    503: {"description": "The index could not be loaded (`dependency_unavailable`); retry"},
}


@app.get(
    SEARCH,
    summary="Search titles, tags and descriptions: your own videos and everyone's public, ready ones",
    description=(
        "The query is cut into words (case, accents and punctuation folded) and never read as query "
        "syntax. Every word must match; the last one also matches as a prefix. `fuzzy` also accepts "
        "typos: one in words of 5+ characters, two from 9, a swap of two letters counting as one."
    ),
    tags=["search"],
    responses={200: {"description": "The best matches, best first"}, **ERRORS},
)
def search(
    q: Annotated[str, Query(min_length=1, max_length=MAX_QUERY_CHARS, description="What to look for")],
    algorithm: Annotated[Algorithm, Query(description="`text` or `fuzzy`")] = Algorithm.TEXT,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> SearchResults:
    return wiring.search_service().search(_caller().user_id, q, algorithm, limit)


def _caller() -> Caller:
    return caller_from(app.current_event.request_context.raw_event)


AUTH_ERRORS: dict[int, OpenAPIResponse] = {401: ERRORS[401], 403: ERRORS[403]}
NOT_YOURS: dict[int, OpenAPIResponse] = {404: {"description": "No such job, or not yours (`not_found`)"}}


@app.post(
    JOBS,
    summary="Run a search in the background: poll the job for its results (kept a day)",
    tags=["search jobs"],
    responses={
        202: {"description": "Queued", "content": {"application/json": {"model": JobAccepted}}},
        **AUTH_ERRORS,
        422: {"description": "An invalid query, algorithm or limit (`validation_failed`)"},
        503: ERRORS[503],
    },
)
def create_job(body: CreateJobRequest) -> Response[str]:
    job = wiring.job_service().submit(_caller().user_id, body)
    return json_response(
        HTTPStatus.ACCEPTED, JobAccepted(job_id=job.job_id, status=job.status).model_dump(mode="json")
    )


@app.get(
    JOBS,
    summary="Your search jobs, newest first (cursor pages)",
    tags=["search jobs"],
    responses={
        **AUTH_ERRORS,
        400: {"description": "A cursor this listing did not make (`malformed_request`)"},
    },
)
def list_jobs(
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=2000)] = None,
) -> JobList:
    items, next_cursor = wiring.job_service().list(_caller().user_id, limit, cursor)
    return JobList(items=[j.public() for j in items], next_cursor=next_cursor)


@app.get(
    f"{JOBS}/<job_id>",
    summary="A search job and, once completed, its results",
    tags=["search jobs"],
    responses={**AUTH_ERRORS, **NOT_YOURS},
)
def get_job(job_id: str) -> JobOut:
    return wiring.job_service().get(_caller().user_id, job_id).public()


@app.post(
    f"{JOBS}/<job_id>/cancel",
    summary="Cancel a queued or running job",
    tags=["search jobs"],
    responses={
        202: {"description": "Cancelled", "content": {"application/json": {"model": JobOut}}},
        **AUTH_ERRORS,
        **NOT_YOURS,
        409: {"description": "The job already finished (`conflict`)"},
    },
)
def cancel_job(job_id: str) -> Response[str]:
    job = wiring.job_service().cancel(_caller().user_id, job_id)
    return json_response(HTTPStatus.ACCEPTED, job.public().model_dump(mode="json"))


@app.post(
    f"{JOBS}/<job_id>/retry",
    summary="Queue a failed or cancelled job again",
    tags=["search jobs"],
    responses={
        202: {"description": "Queued again", "content": {"application/json": {"model": JobOut}}},
        **AUTH_ERRORS,
        **NOT_YOURS,
        409: {"description": "The job is queued, running or completed (`conflict`)"},
    },
)
def retry_job(job_id: str) -> Response[str]:
    job = wiring.job_service().retry(_caller().user_id, job_id)
    return json_response(HTTPStatus.ACCEPTED, job.public().model_dump(mode="json"))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, log_event=False)
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    wiring.api_settings()  # the whole environment is checked on the first invocation
    return app.resolve(event, context)
