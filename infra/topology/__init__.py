"""Skyreel, declared once. Both `infra/aws` (CDK) and `infra/local` (the embedded cloud) build from this.

Each domain declares what it owns in its own module (its table, functions, routes, triggers, workflows
and secrets); this module composes them, with the API's front (authorizer, usage plans, prefixes) and
the CDN's media settings, into the one `TOPOLOGY`. Add a route, function, trigger or resource in its
domain's module and it exists in both back ends; tests check that every route's function imports and
that every resolver route is declared (tests/unit/test_topology.py).
"""

from __future__ import annotations

from infra.model import Api, Authorizer, Media, Topology, UsagePlan
from infra.topology import analytics, auth, platform, search, transcode, videos

DOMAINS = (auth.DOMAIN, videos.DOMAIN, transcode.DOMAIN, search.DOMAIN, analytics.DOMAIN)

TOPOLOGY = Topology.compose(
    name="skyreel",
    domains=(platform.domain(checked=DOMAINS), *DOMAINS),
    api=Api(
        name="skyreel-api",
        routes=(),  # each domain's routes are added by Topology.compose
        # No identity headers: a caller sends a bearer token OR an API key, and API Gateway would refuse
        # a request missing either. The authorizer caches its own results instead.
        authorizer=Authorizer(auth.AUTHORIZER, identity_headers=(), ttl_s=0),
        prefixes=("/api/", "/.well-known/"),
        document_function=platform.DOCUMENT_FUNCTION,
        origin_secret=platform.ORIGIN_SECRET,
        # Per account, on every protected route (the stage throttle bounds everyone together).
        # The plans of functions/shared/plans.py (which holds their storage quotas), the default first.
        usage_plans=(
            UsagePlan("free", rate_per_s=50, burst=100, quota_per_day=100_000),
            UsagePlan("pro", rate_per_s=500, burst=1_000, quota_per_day=5_000_000),
        ),
        usage_key_salt=auth.USAGE_KEY_SALT,
    ),
    media=Media(
        bucket=videos.MEDIA_BUCKET,
        signers=("videos",),
        invalidators=("videos_media", "videos_delete_steps", "videos_publish_steps"),
    ),
)
