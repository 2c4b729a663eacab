"""Skyreel, declared once. Both `infra/aws` (CDK) and `infra/local` (the embedded cloud) build from this.

Add a route, function, trigger or resource here and it exists in both places; tests check that every
route's function imports and that every resolver route is declared (tests/unit/test_topology.py).
"""

from __future__ import annotations

from infra.model import (
    Access,
    Api,
    Auth,
    Authorizer,
    Bucket,
    Cors,
    EventBus,
    EventRule,
    Function,
    Grant,
    Index,
    Media,
    Packaging,
    Queue,
    QueueTrigger,
    Route,
    S3ToQueue,
    ScheduleTrigger,
    Secret,
    SecretKind,
    StateMachine,
    Table,
    Topology,
    UsagePlan,
)

API_V1 = "/api/v1"


# One table per domain, single-table style: generic keys plus overloaded indexes, so a domain can add
# access patterns without a table migration.
def _domain_table(domain: str, indexes: tuple[Index, ...] = (Index("gsi1", "gsi1pk", "gsi1sk"),)) -> Table:
    return Table(id=domain, indexes=indexes, stream=domain in {"videos", "auth"}, ttl_attribute="expires_at")


DOMAIN_TABLES = (
    _domain_table("auth"),
    # videos: gsi1 = a user's videos, newest first; gsi2 = the public catalogue (sparse: public videos only);
    # gsi3 = uploads still awaited, by deadline (sparse), for the sweeper.
    _domain_table(
        "videos",
        (
            Index("gsi1", "gsi1pk", "gsi1sk"),
            Index("gsi2", "gsi2pk", "gsi2sk"),
            Index("gsi3", "gsi3pk", "gsi3sk"),
        ),
    ),
    _domain_table("search"),
    _domain_table("analytics"),
)

BUCKETS = (
    # Browsers PUT straight to presigned URLs, so the uploads bucket needs CORS for PUT and the ETag.
    Bucket(
        id="uploads",
        cors=Cors(allowed_methods=("PUT", "POST", "GET", "HEAD"), exposed_headers=("ETag",)),
        abort_incomplete_multipart_days=1,
    ),
    Bucket(id="media", cors=Cors(exposed_headers=("ETag", "Content-Length", "Content-Range"))),
    Bucket(id="web", website=True),
)

platform = Function(
    id="platform",
    handler="functions.platform.handler.lambda_handler",
    description="Health of every dependency, and the merged OpenAPI document with Swagger UI",
    memory_mb=256,
    timeout_s=10,
    # A public function: it may see that each dependency answers, never an item, object or message.
    tables=tuple(Grant(t.id, Access.DESCRIBE) for t in DOMAIN_TABLES),
    buckets=tuple(Grant(b.id, Access.DESCRIBE) for b in BUCKETS),
    queues=(Grant("ingest", Access.DESCRIBE),),
)

auth = Function(
    id="auth",
    handler="functions.auth.handler.lambda_handler",
    description="Registration, sign-in, refresh and sign-out, the caller's account and API keys, JWKS",
    memory_mb=1024,  # argon2id hashing takes 64 MiB and benefits from the CPU a larger size brings
    timeout_s=29,  # API Gateway's own limit; registration waits for its saga within it
    tables=(Grant("auth"),),
    secrets=("jwt_signing_keys",),
    state_machines=("registration",),
)

auth_authorizer = Function(
    id="auth_authorizer",
    handler="functions.auth.authorizer.lambda_handler",
    description="The API's REQUEST authorizer: a bearer JWT or an API key -> a policy over the routes",
    memory_mb=512,
    timeout_s=10,
    tables=(Grant("auth"),),
    # Verifies tokens with the public keys, never the private ones; names each account's usage-plan key.
    secrets=("jwt_public_keys", "usage_key_salt"),
)

auth_registration = Function(
    id="auth_registration",
    handler="functions.auth.registration.lambda_handler",
    description="The registration saga's steps and their compensations",
    memory_mb=256,
    timeout_s=10,
    tables=(Grant("auth"), Grant("analytics")),
    buses=("events",),
    secrets=("usage_key_salt",),
    manages_usage_keys=True,  # each account's API key on the default usage plan, and its undo
)

videos = Function(
    id="videos",
    handler="functions.videos.handler.lambda_handler",
    description="The video catalogue: create with an upload, list, get, update, delete, playback URLs",
    memory_mb=512,
    timeout_s=29,
    tables=(Grant("videos"),),
    buckets=(Grant("uploads"),),
    buses=("events",),
    state_machines=("video_delete",),
)

videos_ingest = Function(
    id="videos_ingest",
    handler="functions.videos.ingest.lambda_handler",
    description="Upload notifications: check the arrived file against the declared one, mark it uploaded",
    memory_mb=256,
    timeout_s=60,
    tables=(Grant("videos"),),
    buckets=(Grant("uploads"),),
    buses=("events",),
)

videos_delete_steps = Function(
    id="videos_delete_steps",
    handler="functions.videos.deletion.lambda_handler",
    description="The delete saga's steps: mark deleting, remove every object (paged), remove the record",
    memory_mb=512,
    timeout_s=300,
    tables=(Grant("videos"),),
    buckets=(Grant("uploads"), Grant("media")),
    buses=("events",),
)

videos_sweeper = Function(
    id="videos_sweeper",
    handler="functions.videos.sweeper.lambda_handler",
    description="Fails videos whose upload never completed, and aborts their multipart uploads",
    memory_mb=256,
    timeout_s=120,
    tables=(Grant("videos"),),
    buckets=(Grant("uploads"),),
)

videos_media = Function(
    id="videos_media",
    handler="functions.videos.media.lambda_handler",
    description="Moves a video's media to where the CDN serves its new visibility (public/ or signed)",
    memory_mb=256,
    timeout_s=300,
    tables=(Grant("videos"),),
    buckets=(Grant("media"),),
)

videos_publish_steps = Function(
    id="videos_publish_steps",
    handler="functions.videos.publishing.lambda_handler",
    description="The publish workflow's record steps: claim an upload once, mark ready, mark failed",
    memory_mb=256,
    timeout_s=60,
    tables=(Grant("videos"),),
    buckets=(Grant("media"),),
    buses=("events",),
)

transcode = Function(
    id="transcode",
    handler="functions.transcode.handler.lambda_handler",
    description="Probe, encode the HLS ladder from one decode, poster and storyboard; stream them to media",
    memory_mb=10240,  # the most CPU Lambda gives (about 6 vCPUs): x264 uses every core
    timeout_s=900,
    tables=(Grant("videos", Access.READ_WRITE),),  # progress, and the cancel check
    buckets=(Grant("uploads", Access.READ), Grant("media")),
    buses=("events",),
    packaging=Packaging.IMAGE,  # FFmpeg and PyAV are too big for a zip
    local_concurrency=2,  # one encode already takes every core of a laptop
)

AUTH = f"{API_V1}/auth"
VIDEOS = f"{API_V1}/videos"
READ, WRITE = "videos:read", "videos:write"
ACCOUNT = "account"  # held by signed-in users, never by API keys

TOPOLOGY = Topology(
    name="skyreel",
    functions=(
        platform,
        auth,
        auth_authorizer,
        auth_registration,
        videos,
        videos_ingest,
        videos_delete_steps,
        videos_sweeper,
        videos_media,
        videos_publish_steps,
        transcode,
    ),
    api=Api(
        name="skyreel-api",
        routes=(
            Route("GET", f"{API_V1}/health", "platform", Auth.PUBLIC),
            Route("GET", f"{API_V1}/openapi.json", "platform", Auth.PUBLIC),
            Route("GET", f"{API_V1}/docs", "platform", Auth.PUBLIC),
            Route("POST", f"{AUTH}/register", "auth", Auth.PUBLIC),
            Route("POST", f"{AUTH}/login", "auth", Auth.PUBLIC),
            Route("POST", f"{AUTH}/refresh", "auth", Auth.PUBLIC),
            Route("POST", f"{AUTH}/logout", "auth", Auth.PUBLIC),
            Route("GET", f"{AUTH}/me", "auth", scope=ACCOUNT),
            Route("POST", f"{AUTH}/api-keys", "auth", scope=ACCOUNT),
            Route("GET", f"{AUTH}/api-keys", "auth", scope=ACCOUNT),
            Route("DELETE", f"{AUTH}/api-keys/{{key_id}}", "auth", scope=ACCOUNT),
            Route("GET", "/.well-known/jwks.json", "auth", Auth.PUBLIC),
            Route("POST", VIDEOS, "videos", scope=WRITE),
            Route("GET", VIDEOS, "videos", scope=READ),
            Route("GET", f"{VIDEOS}/{{video_id}}", "videos", scope=READ),
            Route("PATCH", f"{VIDEOS}/{{video_id}}", "videos", scope=WRITE),
            Route("DELETE", f"{VIDEOS}/{{video_id}}", "videos", scope=WRITE),
            Route("GET", f"{VIDEOS}/{{video_id}}/upload", "videos", scope=WRITE),
            Route("POST", f"{VIDEOS}/{{video_id}}/upload/complete", "videos", scope=WRITE),
            Route("POST", f"{VIDEOS}/{{video_id}}/upload/abort", "videos", scope=WRITE),
            Route("GET", f"{VIDEOS}/{{video_id}}/playback", "videos", scope=READ),
            Route("POST", f"{VIDEOS}/{{video_id}}/transcode/retry", "videos", scope=WRITE),
            Route("POST", f"{VIDEOS}/{{video_id}}/transcode/cancel", "videos", scope=WRITE),
        ),
        # No identity headers: a caller sends a bearer token OR an API key, and API Gateway would refuse
        # a request missing either. The authorizer caches its own results instead.
        authorizer=Authorizer("auth_authorizer", identity_headers=(), ttl_s=0),
        prefixes=("/api/", "/.well-known/"),
        document_function="platform",
        origin_secret="origin_verify",  # noqa: S106 - the secret's id, not its value
        # Per account, on every protected route (the stage throttle above bounds everyone together).
        # The plans of functions/shared/plans.py (which holds their storage quotas), the default first.
        usage_plans=(
            UsagePlan("free", rate_per_s=50, burst=100, quota_per_day=100_000),
            UsagePlan("pro", rate_per_s=500, burst=1_000, quota_per_day=5_000_000),
        ),
        usage_key_salt="usage_key_salt",
    ),
    tables=DOMAIN_TABLES,
    buckets=BUCKETS,
    queues=(Queue(id="ingest", visibility_timeout_s=120, max_receive_count=5),),
    queue_triggers=(QueueTrigger("ingest", "videos_ingest", batch_size=10),),
    schedules=(ScheduleTrigger("expire_uploads", "videos_sweeper", every_minutes=5),),
    rules=(
        EventRule(
            "publish_uploads",
            "events",
            {"source": ["skyreel.videos"], "detail-type": ["video.uploaded"]},
            state_machine="publish",
        ),
        EventRule(
            "media_follows_visibility",
            "events",
            {"source": ["skyreel.videos"], "detail-type": ["video.visibility_changed"]},
            function="videos_media",
        ),
    ),
    buses=(EventBus(id="events"),),
    secrets=(
        Secret(
            id="jwt_signing_keys",
            description="RSA keys with ids that sign access tokens; rotated by adding a key (docs/auth.md)",
            kind=SecretKind.RSA_KEYSET,
        ),
        Secret(
            id="media_token_keys",
            description="HMAC keys with ids that sign playback tokens; the CDN's key value store holds the same",
            kind=SecretKind.MEDIA_TOKEN_KEYS,
        ),
        Secret(
            id="origin_verify",
            description="Sent by the CDN to the API origin (X-Origin-Verify): the API answers nothing else",
            kind=SecretKind.RANDOM,
        ),
        Secret(
            id="jwt_public_keys",
            description="The public half of jwt_signing_keys as a JWKS: what token verifiers may read",
            kind=SecretKind.PUBLIC_JWKS,
            derived_from="jwt_signing_keys",
        ),
        Secret(
            id="usage_key_salt",
            description="Derives each account's API Gateway API key, the key its requests are metered by",
        ),
    ),
    state_machines=(
        StateMachine(
            id="publish",
            definition="infra/workflows/publish.asl.json",
            functions=("videos_publish_steps", "transcode"),
            timeout_s=3600,
        ),
        StateMachine(
            id="video_delete",
            definition="infra/workflows/video_delete.asl.json",
            functions=("videos_delete_steps",),
            timeout_s=3600,
        ),
        StateMachine(
            id="registration",
            definition="infra/workflows/registration.asl.json",
            functions=("auth_registration",),
            timeout_s=60,
        ),
    ),
    s3_to_queue=(S3ToQueue(bucket="uploads", queue="ingest", prefix="originals/"),),
    media=Media(bucket="media", signers=("videos",), invalidators=("videos_media", "videos_delete_steps")),
)
