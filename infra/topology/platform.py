"""The platform domain: health of every dependency and the API document (functions/platform), the
dashboard's bucket, the event bus every domain publishes on, and the secret that keeps the API behind
the CDN."""

from __future__ import annotations

from collections.abc import Sequence

from functions.shared.vocabulary import API_PREFIX
from infra.model import Access, Auth, Bucket, Domain, EventBus, Function, Grant, Route, Secret, SecretKind

DOCUMENT_FUNCTION = "platform"
ORIGIN_SECRET = "origin_verify"  # noqa: S105 - the secret's id, not its value
WEB_BUCKET = Bucket(id="web", website=True)


def domain(checked: Sequence[Domain]) -> Domain:
    """The platform, whose health route probes every table, bucket and queue of the `checked` domains:
    a resource a domain declares is checked with no edit here."""
    tables = [t.id for d in checked for t in d.tables]
    buckets = [b.id for d in checked for b in d.buckets] + [WEB_BUCKET.id]
    queues = [q.id for d in checked for q in d.queues]
    platform = Function(
        id=DOCUMENT_FUNCTION,
        handler="functions.platform.handler.lambda_handler",
        description="Health of every dependency, and the merged OpenAPI document with Swagger UI",
        memory_mb=256,
        timeout_s=10,
        # A public function: it may see that each dependency answers, never an item, object or message.
        tables=tuple(Grant(t, Access.DESCRIBE) for t in tables),
        buckets=tuple(Grant(b, Access.DESCRIBE) for b in buckets),
        queues=tuple(Grant(q, Access.DESCRIBE) for q in queues),
    )
    return Domain(
        name="platform",
        functions=(platform,),
        routes=(
            Route("GET", f"{API_PREFIX}/health", platform.id, Auth.PUBLIC),
            Route("GET", f"{API_PREFIX}/openapi.json", platform.id, Auth.PUBLIC),
            Route("GET", f"{API_PREFIX}/docs", platform.id, Auth.PUBLIC),
        ),
        buckets=(WEB_BUCKET,),
        buses=(EventBus(id="events"),),  # every domain publishes its events here
        secrets=(
            Secret(
                id=ORIGIN_SECRET,
                description="Sent by the CDN to the API origin (X-Origin-Verify): the API answers nothing else",
                kind=SecretKind.RANDOM,
            ),
        ),
    )
