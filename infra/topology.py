"""Skyreel, declared once. Both `infra/aws` (CDK) and `infra/local` (the embedded cloud) build from this.

Add a route, function, trigger or resource here and it exists in both places; tests check that every
route's function imports and that every resolver route is declared (tests/unit/test_topology.py).
"""

from __future__ import annotations

from infra.model import (
    Access,
    Api,
    Auth,
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

TOPOLOGY = Topology(
    name="skyreel",
    functions=(platform,),
    api=Api(
        name="skyreel-api",
        routes=(
            Route("GET", f"{API_V1}/health", "platform", Auth.PUBLIC),
            Route("GET", f"{API_V1}/openapi.json", "platform", Auth.PUBLIC),
            Route("GET", f"{API_V1}/docs", "platform", Auth.PUBLIC),
        ),
        prefixes=("/api/", "/.well-known/"),
    ),
    tables=DOMAIN_TABLES,
    buckets=BUCKETS,
    queues=(Queue(id="transcode", visibility_timeout_s=960, max_receive_count=3),),
    buses=(EventBus(id="events"),),
    secrets=(
        Secret(
            id="media_signing_key",
            description="RSA key that signs CloudFront URLs for media that is not public",
            kind=SecretKind.RSA_2048,
        ),
    ),
    s3_to_queue=(S3ToQueue(bucket="uploads", queue="transcode", prefix="originals/"),),
    media=Media(bucket="media"),
)
