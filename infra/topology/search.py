"""The search domain (functions/search): the embedded index on S3 kept current from the videos table's
stream by one writer, and the search API that answers from it."""

from __future__ import annotations

from functions.shared.vocabulary import API_PREFIX, Scope
from infra.model import Access, Bucket, Domain, Function, Grant, Route, StreamTrigger
from infra.topology.tables import domain_table

SEARCH = f"{API_PREFIX}/search"
INDEX_BUCKET = "search_index"

search = Function(
    id="search",
    handler="functions.search.handler.lambda_handler",
    description="Search: answers from the index files loaded into the container's /tmp",
    # More memory is more CPU: fuzzy queries and a cold container's index load are CPU-bound.
    memory_mb=1024,
    timeout_s=10,
    buckets=(Grant(INDEX_BUCKET, Access.READ),),
)

search_indexer = Function(
    id="search_indexer",
    handler="functions.search.indexer.lambda_handler",
    description="The one index writer: videos stream batches -> a new index version; rebuilds on demand",
    memory_mb=1024,
    timeout_s=300,
    reserved_concurrency=1,  # one writer: versions are made one after another
    tables=(Grant("videos", Access.READ),),  # a rebuild reads the whole table
    buckets=(Grant(INDEX_BUCKET),),
)

DOMAIN = Domain(
    name="search",
    functions=(search, search_indexer),
    routes=(Route("GET", SEARCH, search.id, scope=Scope.SEARCH.value),),
    tables=(domain_table("search"),),
    buckets=(Bucket(id=INDEX_BUCKET),),
    stream_triggers=(StreamTrigger("videos", search_indexer.id, batch_size=100, retry_attempts=3),),
)
