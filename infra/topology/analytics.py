"""The analytics domain (functions/analytics): each account's analytics profile, made by the
registration saga; viewer analytics (functions/analytics/viewing: the player's beacons -> an event store
-> projected read models, docs/viewer-analytics.md); usage analytics (functions/analytics/usage)."""

from __future__ import annotations

from functions.shared.vocabulary import API_PREFIX, Scope
from infra.model import Access, Auth, Domain, Function, Grant, Route, StreamTrigger, Table
from infra.topology.tables import domain_table

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
    functions=(*VIEWING_FUNCTIONS,),
    routes=(*VIEWING_ROUTES,),
    tables=(domain_table("analytics"), *VIEWING_TABLES),
    stream_triggers=(*VIEWING_STREAM_TRIGGERS,),
)
