"""The analytics domain (functions/analytics): each account's analytics profile, made by the
registration saga, and API usage analytics (functions/analytics/usage, docs/analytics.md): every API
request's access record lands on S3 (date-partitioned, the Athena path), each delivered object is
queued and folded by one aggregator into per day x route x key x status-class counters and latency
sketches in the analytics table, which the usage API reads."""

from __future__ import annotations

from functions.shared.vocabulary import API_PREFIX, Scope
from infra.model import (
    Access,
    AccessLog,
    Bucket,
    Domain,
    Function,
    Grant,
    Queue,
    QueueTrigger,
    Route,
    S3ToQueue,
)
from infra.topology.tables import domain_table

# --- API usage (functions/analytics/usage) -----------------------------------------------------------

USAGE_LOG_BUCKET = "usage_logs"
USAGE_LOG_PREFIX = "requests/"
USAGE_QUEUE = "usage_objects"
ANALYTICS = f"{API_PREFIX}/analytics"
USAGE_SCOPE = Scope.ANALYTICS_READ.value

analytics_usage = Function(
    id="analytics_usage",
    handler="functions.analytics.usage.handler.lambda_handler",
    description="The usage API: totals, daily, per endpoint and per key, and export, from the aggregates",
    memory_mb=512,
    timeout_s=15,
    # The auth table only to check that an API key is the caller's, through the auth domain's data access.
    tables=(Grant("analytics", Access.READ), Grant("auth", Access.READ)),
)

analytics_usage_aggregator = Function(
    id="analytics_usage_aggregator",
    handler="functions.analytics.usage.aggregator.lambda_handler",
    description="Folds each delivered access-log object into the usage aggregates, exactly once",
    memory_mb=1024,
    timeout_s=60,
    reserved_concurrency=1,  # the single writer of the aggregates: read-merge-write never races
    tables=(Grant("analytics"),),
    buckets=(Grant(USAGE_LOG_BUCKET, Access.READ),),
)

USAGE_FUNCTIONS = (analytics_usage, analytics_usage_aggregator)
USAGE_ROUTES = tuple(
    Route("GET", f"{ANALYTICS}{path}", analytics_usage.id, scope=USAGE_SCOPE)
    for path in (
        "/usage",
        "/usage/daily",
        "/usage/endpoints",
        "/api-keys/{key_id}/usage",
        "/api-keys/{key_id}/usage/daily",
        "/export",
    )
)
USAGE_BUCKETS = (Bucket(id=USAGE_LOG_BUCKET),)
USAGE_QUEUES = (Queue(USAGE_QUEUE, visibility_timeout_s=360, max_receive_count=5, retention_days=14),)
USAGE_ACCESS_LOGS = (AccessLog(id="api_requests", bucket=USAGE_LOG_BUCKET, prefix=USAGE_LOG_PREFIX),)
USAGE_S3_TO_QUEUE = (S3ToQueue(USAGE_LOG_BUCKET, USAGE_QUEUE, prefix=USAGE_LOG_PREFIX),)
USAGE_QUEUE_TRIGGERS = (QueueTrigger(USAGE_QUEUE, analytics_usage_aggregator.id, batch_size=10),)

DOMAIN = Domain(
    name="analytics",
    tables=(domain_table("analytics"),),
    functions=USAGE_FUNCTIONS,
    routes=USAGE_ROUTES,
    buckets=USAGE_BUCKETS,
    queues=USAGE_QUEUES,
    access_logs=USAGE_ACCESS_LOGS,
    s3_to_queue=USAGE_S3_TO_QUEUE,
    queue_triggers=USAGE_QUEUE_TRIGGERS,
)
