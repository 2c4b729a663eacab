"""The search domain (functions/search): the embedded index on S3 kept current from the videos table's
stream by one writer, the search API that answers from it, and async search jobs (SQS -> a worker ->
results in the search table, with a TTL)."""

from __future__ import annotations

from functions.shared.vocabulary import API_PREFIX, Scope
from infra.model import Access, Bucket, Domain, Function, Grant, Queue, QueueTrigger, Route, StreamTrigger
from infra.topology.tables import domain_table

SEARCH = f"{API_PREFIX}/search"
JOBS = f"{SEARCH}/jobs"
INDEX_BUCKET = "search_index"
JOBS_QUEUE = "search_jobs"
SCOPE = Scope.SEARCH.value

search = Function(
    id="search",
    handler="functions.search.handler.lambda_handler",
    description="Search: answers from the index files loaded into the container's /tmp",
    # More memory is more CPU: fuzzy queries and a cold container's index load are CPU-bound.
    memory_mb=1024,
    timeout_s=10,
    buckets=(Grant(INDEX_BUCKET, Access.READ),),
    tables=(Grant("search"),),  # jobs
    queues=(Grant(JOBS_QUEUE, Access.WRITE),),
    buses=("events",),
)

search_jobs_worker = Function(
    id="search_jobs_worker",
    handler="functions.search.worker.lambda_handler",
    description="Runs queued search jobs against the index and stores their results",
    memory_mb=1024,
    timeout_s=30,
    tables=(Grant("search"),),
    buckets=(Grant(INDEX_BUCKET, Access.READ),),
    buses=("events",),
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
    functions=(search, search_indexer, search_jobs_worker),
    routes=(
        Route("GET", SEARCH, search.id, scope=SCOPE),
        Route("POST", JOBS, search.id, scope=SCOPE),
        Route("GET", JOBS, search.id, scope=SCOPE),
        Route("GET", f"{JOBS}/{{job_id}}", search.id, scope=SCOPE),
        Route("POST", f"{JOBS}/{{job_id}}/cancel", search.id, scope=SCOPE),
        Route("POST", f"{JOBS}/{{job_id}}/retry", search.id, scope=SCOPE),
    ),
    tables=(domain_table("search"),),
    buckets=(Bucket(id=INDEX_BUCKET),),
    queues=(Queue(JOBS_QUEUE, visibility_timeout_s=60, max_receive_count=3),),
    queue_triggers=(QueueTrigger(JOBS_QUEUE, search_jobs_worker.id, batch_size=10),),
    stream_triggers=(StreamTrigger("videos", search_indexer.id, batch_size=100, retry_attempts=3),),
)
