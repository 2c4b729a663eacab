"""The analytics domain (functions/analytics): each account's analytics profile, made by the
registration saga; API usage analytics (functions/analytics/usage, docs/analytics.md: every API
request's access record lands on S3, date-partitioned for Athena, and each delivered object is folded by
one aggregator into per day x route x key x status-class counters and latency sketches the usage API
reads); viewer analytics (functions/analytics/viewing: the player's beacons -> an event store ->
projected read models, docs/viewer-analytics.md)."""

from __future__ import annotations

from functions.shared.vocabulary import API_PREFIX, Scope
from infra.model import (
    Access,
    AccessLog,
    Auth,
    Bucket,
    Domain,
    Function,
    Grant,
    Queue,
    QueueTrigger,
    Route,
    S3ToQueue,
    StreamTrigger,
    Table,
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

# --- viewer analytics (CQRS): kept in their own tuples, composed into DOMAIN below -----------------

VIEW_EVENTS = "view_events"  # the append-only event store: one item per distinct beacon, with a stream

analytics_views = Function(
    id="analytics_views",
    handler="functions.analytics.viewing.handler.lambda_handler",
    description="Viewer analytics: the player's beacon appends to the event store; reads of the read models",
    memory_mb=512,
    timeout_s=10,
    # The videos table through the videos domain's data access: who may watch, and its owner.
    tables=(Grant("videos", Access.READ), Grant(VIEW_EVENTS, Access.WRITE), Grant("analytics", Access.READ)),
    secrets=("media_token_keys",),  # checks an anonymous player's playback token
)

analytics_projector = Function(
    id="analytics_projector",
    handler="functions.analytics.viewing.projector.lambda_handler",
    description="The one read-model writer: view events -> per-video, per-viewer, per-owner read models; replay",
    # A replay holds the whole projection in memory: ~0.9 GB for 1,000,000 events (docs/benchmarks.md).
    memory_mb=2048,
    timeout_s=900,  # a replay folds the whole event store in one invocation
    reserved_concurrency=1,  # one writer: batches and a replay apply one after another
    tables=(Grant(VIEW_EVENTS, Access.READ), Grant("analytics")),
)

VIEWING_FUNCTIONS = (analytics_views, analytics_projector)
VIEWING_ROUTES = (
    Route(
        "POST",
        f"{API_PREFIX}/videos/{{video_id}}/views",
        analytics_views.id,
        auth=Auth.OPTIONAL,
        scope=Scope.VIDEOS_READ.value,
    ),
    Route(
        "GET",
        f"{API_PREFIX}/analytics/videos/{{video_id}}",
        analytics_views.id,
        scope=Scope.ANALYTICS_READ.value,
    ),
    Route("GET", f"{API_PREFIX}/analytics/overview", analytics_views.id, scope=Scope.ANALYTICS_READ.value),
)
VIEWING_TABLES = (Table(id=VIEW_EVENTS, stream=True),)
VIEWING_STREAM_TRIGGERS = (
    StreamTrigger(VIEW_EVENTS, analytics_projector.id, batch_size=100, retry_attempts=5),
)

DOMAIN = Domain(
    name="analytics",
    tables=(domain_table("analytics"), *VIEWING_TABLES),
    functions=(*USAGE_FUNCTIONS, *VIEWING_FUNCTIONS),
    routes=(*USAGE_ROUTES, *VIEWING_ROUTES),
    buckets=USAGE_BUCKETS,
    queues=USAGE_QUEUES,
    access_logs=USAGE_ACCESS_LOGS,
    s3_to_queue=USAGE_S3_TO_QUEUE,
    queue_triggers=USAGE_QUEUE_TRIGGERS,
    stream_triggers=VIEWING_STREAM_TRIGGERS,
)
