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
    Function,
    Grant,
    Index,
    Media,
    Queue,
    Route,
    S3ToQueue,
    Secret,
    SecretKind,
    StateMachine,
    Table,
    Topology,
)

API_V1 = "/api/v1"

# One table per domain, single-table style: generic keys plus one overloaded index, so a domain can add
# access patterns without a table migration.
DOMAIN_TABLES = tuple(
    Table(
        id=domain,
        indexes=(Index("gsi1", "gsi1pk", "gsi1sk"),),
        stream=domain in {"videos", "auth"},
        ttl_attribute="expires_at",
    )
    for domain in ("auth", "videos", "search", "analytics")
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
    tables=tuple(Grant(t.id, Access.READ) for t in DOMAIN_TABLES),
    buckets=tuple(Grant(b.id, Access.READ) for b in BUCKETS),
    queues=(Grant("transcode", Access.READ),),
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
    secrets=("jwt_signing_keys",),
)

auth_registration = Function(
    id="auth_registration",
    handler="functions.auth.registration.lambda_handler",
    description="The registration saga's steps and their compensations",
    memory_mb=256,
    timeout_s=10,
    tables=(Grant("auth"), Grant("analytics")),
    buses=("events",),
)

AUTH = f"{API_V1}/auth"
ACCOUNT = "account"  # held by signed-in users, never by API keys

TOPOLOGY = Topology(
    name="skyreel",
    functions=(platform, auth, auth_authorizer, auth_registration),
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
        ),
        # No identity headers: a caller sends a bearer token OR an API key, and API Gateway would refuse
        # a request missing either. The authorizer caches its own results instead.
        authorizer=Authorizer("auth_authorizer", identity_headers=(), ttl_s=0),
        prefixes=("/api/", "/.well-known/"),
    ),
    tables=DOMAIN_TABLES,
    buckets=BUCKETS,
    queues=(Queue(id="transcode", visibility_timeout_s=960, max_receive_count=3),),
    buses=(EventBus(id="events"),),
    secrets=(
        Secret(
            id="jwt_signing_keys",
            description="RSA keys with ids that sign access tokens; rotated by adding a key (docs/auth.md)",
            kind=SecretKind.RSA_KEYSET,
        ),
        Secret(
            id="media_signing_key",
            description="RSA key that signs CloudFront URLs for media that is not public",
            kind=SecretKind.RSA_2048,
        ),
    ),
    state_machines=(
        StateMachine(
            id="registration",
            definition="infra/workflows/registration.asl.json",
            functions=("auth_registration",),
            timeout_s=60,
        ),
    ),
    s3_to_queue=(S3ToQueue(bucket="uploads", queue="transcode", prefix="originals/"),),
    media=Media(bucket="media"),
)
