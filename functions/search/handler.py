"""HTTP entry of the search function: `GET /search`, synchronous, over the embedded index."""

# No `from __future__ import annotations` here: powertools reads route annotations at runtime.
from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.search import wiring
from functions.search.models import DEFAULT_LIMIT, MAX_LIMIT, MAX_QUERY_CHARS, Algorithm, SearchResults
from functions.search.settings import SearchApiSettings
from functions.shared.api import create_resolver
from functions.shared.observability import logger, metrics, tracer
from functions.shared.principal import caller_from
from functions.shared.vocabulary import API_PREFIX

Settings = SearchApiSettings
app = create_resolver()
SEARCH = f"{API_PREFIX}/search"

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
    caller = caller_from(app.current_event.request_context.raw_event)
    return wiring.search_service().search(caller.user_id, q, algorithm, limit)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, log_event=False)
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    wiring.api_settings()  # the whole environment is checked on the first invocation
    return app.resolve(event, context)
