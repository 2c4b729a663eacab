"""HTTP entry of the search function: `GET /search`, synchronous, over the embedded index."""

# No `from __future__ import annotations` here: powertools reads route annotations at runtime.
from http import HTTPStatus
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query
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
from functions.shared.contract import PROTECTED, documented, link
from functions.shared.observability import logger, metrics, tracer
from functions.shared.principal import Caller, caller_from
from functions.shared.vocabulary import API_PREFIX

Settings = SearchApiSettings
app = create_resolver()
SEARCH = f"{API_PREFIX}/search"
JOBS = f"{SEARCH}/jobs"

QUERY_422 = (
    "An empty or over-long query, one with control characters or no letter or digit, an unknown "
    "algorithm, or a limit out of range (`validation_failed`)"
)
NOT_YOURS = "No such job, or not yours (`not_found`)"


def _caller() -> Caller:
    return caller_from(app.current_event.request_context.raw_event)


@app.get(
    SEARCH,
    operation_id="search",
    summary="Search titles, tags and descriptions: your own videos and everyone's public, ready ones",
    description=(
        "The query is cut into words (case, accents and punctuation folded) and never read as query "
        "syntax. Every word must match; the last one also matches as a prefix. `fuzzy` also accepts "
        "typos: one in words of 5+ characters, two from 9, a swap of two letters counting as one."
    ),
    tags=["search"],
    responses=documented(
        200,
        SearchResults,
        "The best matches, best first",
        protected=True,
        errors={422: QUERY_422, 503: "The index could not be loaded (`dependency_unavailable`); retry"},
    ),
    security=PROTECTED,
)
def search(
    q: Annotated[str, Query(min_length=1, max_length=MAX_QUERY_CHARS, description="What to look for")],
    algorithm: Annotated[Algorithm, Query(description="`text` or `fuzzy`")] = Algorithm.TEXT,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> SearchResults:
    return wiring.search_service().search(_caller().user_id, q, algorithm, limit)


@app.post(
    JOBS,
    operation_id="createSearchJob",
    summary="Run a search in the background: poll the job for its results (kept a day)",
    tags=["search jobs"],
    responses=documented(
        202,
        JobAccepted,
        "Queued",
        body=True,
        protected=True,
        errors={422: QUERY_422},
        links={
            op: link(op, f"{op} the job just queued", job_id="$response.body#/job_id")
            for op in ("getSearchJob", "cancelSearchJob", "retrySearchJob")
        },
    ),
    security=PROTECTED,
)
def create_job(body: CreateJobRequest) -> Response[str]:
    job = wiring.job_service().submit(_caller().user_id, body)
    accepted = JobAccepted(job_id=job.job_id, status=job.status)
    return json_response(HTTPStatus.ACCEPTED, accepted.model_dump(mode="json"))


@app.get(
    JOBS,
    operation_id="listSearchJobs",
    summary="Your search jobs, newest first (cursor pages)",
    tags=["search jobs"],
    responses=documented(
        200,
        JobList,
        "A page of jobs; pass `next_cursor` as `cursor` for the next",
        protected=True,
        errors={400: "`cursor` is not one this API returned for this listing (`malformed_request`)"},
    ),
    security=PROTECTED,
)
def list_jobs(
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=2000)] = None,
) -> JobList:
    items, next_cursor = wiring.job_service().list(_caller().user_id, limit, cursor)
    return JobList(items=[j.public() for j in items], next_cursor=next_cursor)


@app.get(
    f"{JOBS}/<job_id>",
    operation_id="getSearchJob",
    summary="A search job and, once completed, its results",
    tags=["search jobs"],
    responses=documented(200, JobOut, "The job", path=True, protected=True, errors={404: NOT_YOURS}),
    security=PROTECTED,
)
def get_job(job_id: str) -> JobOut:
    return wiring.job_service().get(_caller().user_id, job_id).public()


@app.post(
    f"{JOBS}/<job_id>/cancel",
    operation_id="cancelSearchJob",
    summary="Cancel a queued or running job",
    tags=["search jobs"],
    responses=documented(
        202,
        JobOut,
        "Cancelled",
        path=True,
        protected=True,
        errors={404: NOT_YOURS, 409: "The job already finished (`conflict`)"},
    ),
    security=PROTECTED,
)
def cancel_job(job_id: str) -> Response[str]:
    job = wiring.job_service().cancel(_caller().user_id, job_id)
    return json_response(HTTPStatus.ACCEPTED, job.public().model_dump(mode="json"))


@app.post(
    f"{JOBS}/<job_id>/retry",
    operation_id="retrySearchJob",
    summary="Queue a failed or cancelled job again",
    tags=["search jobs"],
    responses=documented(
        202,
        JobOut,
        "Queued again",
        path=True,
        protected=True,
        errors={404: NOT_YOURS, 409: "The job is queued, running or completed (`conflict`)"},
    ),
    security=PROTECTED,
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
