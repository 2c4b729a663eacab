"""The vocabulary of the topology: plain, frozen descriptions with no AWS or moto code in them.

`infra/topology/` declares Skyreel with these types once (one module per domain); `infra/aws` turns the declaration into
CDK constructs and `infra/local` into resources in the embedded local cloud. Anything a back end
needs to know (names, environment variables, grants) is derived here so both derive it the same way.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parent.parent
_ID = re.compile(r"^[a-z][a-z0-9_]*$")
_T = TypeVar("_T")


def _check_id(kind: str, value: str) -> None:
    if not _ID.match(value):
        raise ValueError(f"{kind} id {value!r} must be snake_case (it becomes env var and resource names)")


class Access(StrEnum):
    READ = "read"
    WRITE = "write"
    READ_WRITE = "read_write"
    # That the resource exists and answers, and nothing of its data: DescribeTable, GetBucketLocation,
    # GetQueueAttributes. For health checks, which must not read items, objects or messages.
    DESCRIBE = "describe"


class Auth(StrEnum):
    PUBLIC = "public"  # no authorizer
    PROTECTED = "protected"  # the API's authorizer runs first; its principal reaches the handler
    # The authorizer runs first too, and credentials that fail are refused (401) as on a protected route;
    # a request with no credentials at all reaches the handler anonymous (no principal), which decides
    # what an anonymous caller may do. Not metered by usage plans (an anonymous caller has no key); the
    # stage throttle bounds it. E.g. an embedded player's beacon, which carries a playback token instead.
    OPTIONAL = "optional"


# --- resources -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Index:
    name: str
    partition_key: str
    sort_key: str | None = None


@dataclass(frozen=True)
class Table:
    """A DynamoDB table (one per domain). Keys are strings; on-demand billing."""

    id: str
    partition_key: str = "pk"
    sort_key: str | None = "sk"
    indexes: tuple[Index, ...] = ()
    stream: bool = False  # NEW_AND_OLD_IMAGES when on
    ttl_attribute: str | None = None

    def __post_init__(self) -> None:
        _check_id("table", self.id)

    @property
    def env_var(self) -> str:
        return f"{self.id.upper()}_TABLE_NAME"


@dataclass(frozen=True)
class Cors:
    allowed_methods: tuple[str, ...] = ("GET", "HEAD")
    allowed_origins: tuple[str, ...] = ("*",)
    allowed_headers: tuple[str, ...] = ("*",)
    exposed_headers: tuple[str, ...] = ("ETag",)
    max_age_s: int = 3600


@dataclass(frozen=True)
class Bucket:
    id: str
    cors: Cors | None = None
    abort_incomplete_multipart_days: int | None = None
    # Served by the CDN: the local front door mirrors CloudFront's behaviour for it.
    website: bool = False

    def __post_init__(self) -> None:
        _check_id("bucket", self.id)

    @property
    def env_var(self) -> str:
        return f"{self.id.upper()}_BUCKET_NAME"


@dataclass(frozen=True)
class Queue:
    """An SQS queue, always with a dead-letter queue so a poison message cannot loop forever."""

    id: str
    visibility_timeout_s: int = 60
    max_receive_count: int = 3
    retention_days: int = 4

    def __post_init__(self) -> None:
        _check_id("queue", self.id)

    @property
    def env_var(self) -> str:
        return f"{self.id.upper()}_QUEUE_URL"

    @property
    def dlq_id(self) -> str:
        return f"{self.id}_dlq"


@dataclass(frozen=True)
class EventBus:
    id: str

    def __post_init__(self) -> None:
        _check_id("event bus", self.id)

    @property
    def env_var(self) -> str:
        return f"{self.id.upper()}_EVENT_BUS_NAME"


class SecretKind(StrEnum):
    # JSON {"active_kid": str, "keys": [{"kid", "private_key_pem", "created_at"}]}: signing keys with ids,
    # so a rotation adds a key and old tokens stay verifiable until they expire (docs/auth.md).
    RSA_KEYSET = "rsa_keyset"
    # JSON {"active_kid": str, "keys": {kid: str}}: HMAC keys for playback tokens, defined by
    # functions/shared/media_token.py; in AWS the keygen resource also puts them in the CDN's key value store.
    MEDIA_TOKEN_KEYS = "media_token_keys"  # noqa: S105 - a kind of secret, not a secret
    RANDOM = "random"  # 48 random url-safe characters
    # The public keys of an RSA_KEYSET secret as a JWKS (`derived_from` names it), written wherever that
    # set is made or rotated, so verifiers can be granted the public keys without the private ones.
    PUBLIC_JWKS = "public_jwks"


@dataclass(frozen=True)
class Secret:
    id: str
    description: str
    kind: SecretKind = SecretKind.RANDOM
    derived_from: str | None = None  # PUBLIC_JWKS: the RSA_KEYSET secret it publishes

    def __post_init__(self) -> None:
        _check_id("secret", self.id)
        if (self.kind is SecretKind.PUBLIC_JWKS) != (self.derived_from is not None):
            raise ValueError(
                f"secret {self.id}: a {SecretKind.PUBLIC_JWKS.value} secret, and only one, names derived_from"
            )

    @property
    def env_var(self) -> str:
        return f"{self.id.upper()}_SECRET_ID"


@dataclass(frozen=True)
class StateMachine:
    """A Step Functions workflow. The definition is an ASL file shared by both back ends.

    The file refers to functions as `${fn_<function id>}` and to other resources as
    `${table_<id>}`, `${bucket_<id>}`, `${bus_<id>}`; each back end substitutes its own names/ARNs.
    """

    id: str
    definition: str  # path relative to the repository root
    functions: tuple[str, ...] = ()  # function ids the workflow invokes
    tables: tuple[str, ...] = ()
    buckets: tuple[str, ...] = ()
    buses: tuple[str, ...] = ()
    timeout_s: int = 3600

    def __post_init__(self) -> None:
        _check_id("state machine", self.id)

    @property
    def env_var(self) -> str:
        return f"{self.id.upper()}_STATE_MACHINE_ARN"

    def definition_text(self) -> str:
        return (ROOT / self.definition).read_text()


# --- compute and wiring -------------------------------------------------------------------------


@dataclass(frozen=True)
class Grant:
    """A function's permission on one resource; it also decides the env var the function receives."""

    resource: str
    access: Access = Access.READ_WRITE


class Packaging(StrEnum):
    ZIP = "zip"  # code + the shared dependency layer
    IMAGE = "image"  # a container image (functions/<domain>/Dockerfile), e.g. FFmpeg


@dataclass(frozen=True)
class Function:
    id: str
    handler: str  # dotted path "functions.<domain>.handler.lambda_handler"
    description: str
    memory_mb: int = 512
    timeout_s: int = 10
    reserved_concurrency: int | None = None
    # How many invocations the local runtime runs at once when no reservation is set.
    local_concurrency: int = 8
    tables: tuple[Grant, ...] = ()
    buckets: tuple[Grant, ...] = ()
    queues: tuple[Grant, ...] = ()
    buses: tuple[str, ...] = ()  # may put events
    secrets: tuple[str, ...] = ()  # may read
    state_machines: tuple[str, ...] = ()  # may start executions
    environment: Mapping[str, str] = field(default_factory=dict)
    packaging: Packaging = Packaging.ZIP
    # May create and delete API Gateway API keys and attach them to the API's usage plans (USAGE_PLANS).
    manages_usage_keys: bool = False

    def __post_init__(self) -> None:
        _check_id("function", self.id)
        module, _, attr = self.handler.rpartition(".")
        if not module or not attr:
            raise ValueError(f"function {self.id}: handler {self.handler!r} must be module.attribute")

    @property
    def module(self) -> str:
        return self.handler.rpartition(".")[0]

    @property
    def attribute(self) -> str:
        return self.handler.rpartition(".")[2]

    @property
    def domain(self) -> str:
        """The folder under functions/ the handler lives in."""
        parts = self.module.split(".")
        return parts[1] if len(parts) > 1 and parts[0] == "functions" else parts[0]

    @property
    def service_name(self) -> str:
        return f"skyreel-{self.id.replace('_', '-')}"


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # from the API root, API Gateway style: "/api/v1/videos/{id}"
    function: str
    auth: Auth = Auth.PROTECTED
    # The scope a caller needs (the authorizer's policy allows only routes whose scope the caller holds).
    # None on a protected route: any authenticated caller.
    scope: str | None = None

    def __post_init__(self) -> None:
        if self.method not in {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}:
            raise ValueError(f"route {self.path}: unsupported method {self.method}")
        if not self.path.startswith("/"):
            raise ValueError(f"route {self.path}: path must start with /")

    def regex(self) -> re.Pattern[str]:
        """The path as a regex; `{name}` matches one segment and `{name+}` the rest (greedy)."""
        pattern = re.sub(r"\\\{(\w+)\\\+\\\}", r"(?P<\1>.+)", re.escape(self.path))
        pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", pattern)
        return re.compile(f"^{pattern}$")


@dataclass(frozen=True)
class Authorizer:
    """An API Gateway REQUEST authorizer. Results are cached per identity for `ttl_s` as API Gateway does.

    With `identity_headers` set, a request missing ANY of them is refused with 401 without calling
    the function (API Gateway's rule), so alternatives (a bearer token OR an API key) cannot both be
    identity headers: declare none (nothing is cached; the function always runs) or the one always sent.
    """

    function: str
    identity_headers: tuple[str, ...] = ()
    ttl_s: int = 300


@dataclass(frozen=True)
class GatewayResponse:
    """What API Gateway itself answers (no function ran), in the API's error shape.

    `type` is an API Gateway ResponseType. MISSING_AUTHENTICATION_TOKEN is what API Gateway says for an
    unknown route; we answer it as the 404 it really is.
    """

    type: str
    status: int
    code: str
    message: str

    def body(self) -> str:
        return json.dumps({"error": {"code": self.code, "message": self.message, "details": []}})


GATEWAY_RESPONSES = (
    GatewayResponse("UNAUTHORIZED", 401, "unauthenticated", "Missing or invalid credentials."),
    GatewayResponse("ACCESS_DENIED", 403, "forbidden", "These credentials may not call this route."),
    GatewayResponse("MISSING_AUTHENTICATION_TOKEN", 404, "not_found", "No such route."),
    GatewayResponse("THROTTLED", 429, "throttled", "Too many requests; slow down and retry."),
    GatewayResponse(
        "QUOTA_EXCEEDED", 429, "quota_exceeded", "This account's daily request quota is used up."
    ),
    GatewayResponse("INVALID_API_KEY", 403, "forbidden", "This account has no usage plan."),
    GatewayResponse("REQUEST_TOO_LARGE", 413, "payload_too_large", "The request body is over 10 MB."),
    GatewayResponse("AUTHORIZER_FAILURE", 500, "internal_error", "The authorizer failed."),
    GatewayResponse("INTEGRATION_FAILURE", 502, "bad_gateway", "The function failed to answer."),
    GatewayResponse("INTEGRATION_TIMEOUT", 504, "gateway_timeout", "The function did not answer in time."),
    GatewayResponse("DEFAULT_5XX", 502, "bad_gateway", "The function failed to answer."),
)


def method_not_allowed_body(allowed: Sequence[str]) -> str:
    """What a declared path answers to a method it does not serve (405, with `Allow: <allowed>`)."""
    message = f"This path answers {', '.join(allowed)} only."
    return json.dumps({"error": {"code": "method_not_allowed", "message": message, "details": []}})


@dataclass(frozen=True)
class UsagePlan:
    """An API Gateway usage plan: each caller's own token bucket (`rate_per_s`, `burst`) and daily quota.

    Every protected route is metered. The authorizer names the caller's API Gateway API key (one per
    account, made by the registration saga) as `usageIdentifierKey`; the key's plan sets its limits.
    The first plan of `Api.usage_plans` is the one new accounts join.
    """

    id: str
    rate_per_s: float
    burst: int
    quota_per_day: int | None = None

    def __post_init__(self) -> None:
        _check_id("usage plan", self.id)


@dataclass(frozen=True)
class Api:
    name: str
    routes: tuple[Route, ...]
    authorizer: Authorizer | None = None
    gateway_responses: tuple[GatewayResponse, ...] = GATEWAY_RESPONSES
    stage: str = "prod"  # the API Gateway stage in AWS; the CDN hides it (origin path)
    # Path prefixes the CDN sends to the API (CloudFront behaviours); everything else is static.
    prefixes: tuple[str, ...] = ("/api/",)
    # Stage-wide protection (API Gateway's account default is 10,000/s with a 5,000 burst).
    throttle_rate: int = 2000
    throttle_burst: int = 4000
    max_body_bytes: int = 10 * 1024 * 1024  # API Gateway's payload limit
    # The function that serves the merged OpenAPI document: it gets API_HANDLER_MODULES, the handler
    # module of every function that serves a route, and imports only those (never an image function's
    # handler, whose packages are not in the zip functions' layer).
    document_function: str | None = None
    # A RANDOM secret the CDN sends the API origin (header X-Origin-Verify) and every function serving a
    # route, and the authorizer, checks: the API answers only requests that came through the CDN.
    origin_secret: str | None = None
    usage_plans: tuple[UsagePlan, ...] = ()  # per-caller limits on protected routes; the first is the default
    usage_key_salt: str | None = None  # the secret each account's metering key is derived with

    def methods_by_path(self) -> dict[str, tuple[str, ...]]:
        """Each declared path and the methods it serves, sorted (a 405's `Allow` header)."""
        methods: dict[str, set[str]] = {}
        for route in self.routes:
            methods.setdefault(route.path, set()).add(route.method)
        return {path: tuple(sorted(found)) for path, found in methods.items()}

    def gateway_response(self, response_type: str) -> GatewayResponse:
        for response in self.gateway_responses:
            if response.type == response_type:
                return response
        raise KeyError(response_type)


@dataclass(frozen=True)
class Media:
    """How the CDN serves the media bucket under `path_prefix`.

    Keys under one of `public_key_prefixes` are served to anyone at `<path_prefix><key>`. Every other video
    directory (`hls/<video_id>/`) is served only at `<path_prefix><signed_path><token>/hls/<video_id>/...`
    with a playback token made with the key set in `signing_secret` (functions/shared/media_token.py).
    Any other path under `path_prefix` is refused.
    """

    bucket: str
    path_prefix: str = "/media/"
    public_key_prefixes: tuple[str, ...] = ("public/",)
    signed_path: str = "s/"
    signing_secret: str = "media_token_keys"  # noqa: S105 - the secret's id, not its value
    # Functions that make playback URLs: they read the key set and get the CDN's public URL (CDN_URL).
    signers: tuple[str, ...] = ()
    # Functions that invalidate a video's cached media (CDN_DISTRIBUTION_ID, cloudfront:CreateInvalidation).
    invalidators: tuple[str, ...] = ()


@dataclass(frozen=True)
class AccessLog:
    """The API stage's access log, one JSON record per request (every request, whoever answered it),
    delivered to `bucket` under `prefix` + `dt=YYYY-MM-DD/` (the layout Athena partitions on).

    In AWS: the stage's access log destination is a Kinesis Data Firehose stream (its name must start
    with `amazon-apigateway-`) that buffers and writes objects to the bucket. Locally: the gateway hands
    each record to a background emitter that writes the same objects (infra/local/accesslog.py).
    Consumers subscribe with an `S3ToQueue` on the bucket and prefix.
    """

    id: str
    bucket: str
    prefix: str = "requests/"
    buffer_interval_s: int = 60  # Firehose delivers when either buffer limit is reached
    buffer_mb: int = 5

    def __post_init__(self) -> None:
        _check_id("access log", self.id)
        if not self.prefix.endswith("/"):
            raise ValueError(f"access log {self.id}: prefix must end with /")


# --- triggers ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class S3ToQueue:
    """Bucket notifications (ObjectCreated) delivered to a queue: the buffer in front of consumers."""

    bucket: str
    queue: str
    prefix: str = ""
    suffix: str = ""
    events: tuple[str, ...] = ("s3:ObjectCreated:*",)


@dataclass(frozen=True)
class QueueTrigger:
    """SQS -> function in batches, with partial batch failure (ReportBatchItemFailures)."""

    queue: str
    function: str
    batch_size: int = 10
    max_batching_window_s: int = 0


@dataclass(frozen=True)
class StreamTrigger:
    """DynamoDB stream -> function, with partial batch failure and a bounded retry count."""

    table: str
    function: str
    batch_size: int = 100
    retry_attempts: int = 3


@dataclass(frozen=True)
class ScheduleTrigger:
    """Run a function on a fixed rate (an EventBridge schedule in AWS; a timer in the local cloud)."""

    id: str
    function: str
    every_minutes: int

    def __post_init__(self) -> None:
        _check_id("schedule", self.id)
        if self.every_minutes < 1:
            raise ValueError(f"schedule {self.id}: EventBridge rates are whole minutes, at least 1")


@dataclass(frozen=True)
class EventRule:
    """An EventBridge rule on a bus with exactly one target: a function or a state machine."""

    id: str
    bus: str
    pattern: Mapping[str, object]
    function: str | None = None
    state_machine: str | None = None

    def __post_init__(self) -> None:
        _check_id("rule", self.id)
        if (self.function is None) == (self.state_machine is None):
            raise ValueError(f"rule {self.id}: give exactly one target (function or state_machine)")


# --- the whole thing ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Domain:
    """One domain's part of the topology (infra/topology/<domain>.py): what it owns and declares.

    A domain owns its table, its functions and the routes, triggers, workflows and secrets that serve
    them; infra/topology/__init__.py composes the domains into the one `Topology`. References across
    domains (a grant on another domain's table, a rule targeting another domain's function) are by id
    and are checked when the whole is composed.
    """

    name: str
    functions: tuple[Function, ...] = ()
    routes: tuple[Route, ...] = ()
    tables: tuple[Table, ...] = ()
    buckets: tuple[Bucket, ...] = ()
    queues: tuple[Queue, ...] = ()
    buses: tuple[EventBus, ...] = ()
    secrets: tuple[Secret, ...] = ()
    state_machines: tuple[StateMachine, ...] = ()
    s3_to_queue: tuple[S3ToQueue, ...] = ()
    queue_triggers: tuple[QueueTrigger, ...] = ()
    stream_triggers: tuple[StreamTrigger, ...] = ()
    rules: tuple[EventRule, ...] = ()
    schedules: tuple[ScheduleTrigger, ...] = ()
    access_logs: tuple[AccessLog, ...] = ()


@dataclass(frozen=True)
class Topology:
    name: str
    functions: tuple[Function, ...]
    api: Api
    tables: tuple[Table, ...] = ()
    buckets: tuple[Bucket, ...] = ()
    queues: tuple[Queue, ...] = ()
    buses: tuple[EventBus, ...] = ()
    secrets: tuple[Secret, ...] = ()
    state_machines: tuple[StateMachine, ...] = ()
    s3_to_queue: tuple[S3ToQueue, ...] = ()
    queue_triggers: tuple[QueueTrigger, ...] = ()
    stream_triggers: tuple[StreamTrigger, ...] = ()
    rules: tuple[EventRule, ...] = ()
    schedules: tuple[ScheduleTrigger, ...] = ()
    access_logs: tuple[AccessLog, ...] = ()  # at most one: a stage has one access log destination
    media: Media | None = None
    web_root: str = "web/dist"  # the dashboard's build output (make web)

    def __post_init__(self) -> None:
        self.validate()

    @classmethod
    def compose(cls, name: str, api: Api, domains: Sequence[Domain], media: Media | None = None) -> Topology:
        """The whole platform from its domains: each one's declarations concatenated, its routes on `api`."""

        def every(kind: str) -> tuple[Any, ...]:
            return tuple(item for domain in domains for item in getattr(domain, kind))

        return cls(
            name=name,
            functions=every("functions"),
            api=replace(api, routes=api.routes + every("routes")),
            tables=every("tables"),
            buckets=every("buckets"),
            queues=every("queues"),
            buses=every("buses"),
            secrets=every("secrets"),
            state_machines=every("state_machines"),
            s3_to_queue=every("s3_to_queue"),
            queue_triggers=every("queue_triggers"),
            stream_triggers=every("stream_triggers"),
            rules=every("rules"),
            schedules=every("schedules"),
            access_logs=every("access_logs"),
            media=media,
        )

    # lookups
    def function(self, function_id: str) -> Function:
        return _find(self.functions, function_id, "function")

    def table(self, table_id: str) -> Table:
        return _find(self.tables, table_id, "table")

    def bucket(self, bucket_id: str) -> Bucket:
        return _find(self.buckets, bucket_id, "bucket")

    def queue(self, queue_id: str) -> Queue:
        return _find(self.queues, queue_id, "queue")

    def bus(self, bus_id: str) -> EventBus:
        return _find(self.buses, bus_id, "event bus")

    def secret(self, secret_id: str) -> Secret:
        return _find(self.secrets, secret_id, "secret")

    def state_machine(self, machine_id: str) -> StateMachine:
        return _find(self.state_machines, machine_id, "state machine")

    def public_keys_of(self, secret_id: str) -> Secret | None:
        """The PUBLIC_JWKS secret that publishes an RSA_KEYSET secret, if one is declared."""
        return next((s for s in self.secrets if s.derived_from == secret_id), None)

    def routes_of(self, function_id: str) -> tuple[Route, ...]:
        return tuple(r for r in self.api.routes if r.function == function_id)

    def environment_for(self, fn: Function, names: ResourceNames) -> dict[str, str]:
        """The environment a function runs with, given how a back end names resources."""
        env: dict[str, str] = {
            "SKYREEL_STAGE": names.stage,
            "POWERTOOLS_SERVICE_NAME": fn.service_name,
            "POWERTOOLS_METRICS_NAMESPACE": "Skyreel",
            "POWERTOOLS_LOG_LEVEL": "INFO",
        }
        env.update(self._grant_environment(fn, names))
        env.update(self._api_environment(fn, names))
        env.update(fn.environment)
        return env

    def _grant_environment(self, fn: Function, names: ResourceNames) -> dict[str, str]:
        """Where each resource the function was granted is: a grant is also its configuration."""
        env: dict[str, str] = {}
        for grant in fn.tables:
            env[self.table(grant.resource).env_var] = names.table(grant.resource)
        for grant in fn.buckets:
            env[self.bucket(grant.resource).env_var] = names.bucket(grant.resource)
        for grant in fn.queues:
            env[self.queue(grant.resource).env_var] = names.queue_url(grant.resource)
        for bus_id in fn.buses:
            env[self.bus(bus_id).env_var] = names.bus(bus_id)
        for secret_id in fn.secrets:
            env[self.secret(secret_id).env_var] = names.secret(secret_id)
        for machine_id in fn.state_machines:
            env[self.state_machine(machine_id).env_var] = names.state_machine_arn(machine_id)
        return env

    def _api_environment(self, fn: Function, names: ResourceNames) -> dict[str, str]:
        """What the function's role in the API and the CDN needs: signing, invalidating, metering, scopes."""
        env: dict[str, str] = {}
        if self.media is not None and fn.id in self.media.signers:
            env[self.secret(self.media.signing_secret).env_var] = names.secret(self.media.signing_secret)
            env["CDN_URL"] = names.cdn_url()
        if self.media is not None and fn.id in self.media.invalidators:
            env["CDN_DISTRIBUTION_ID"] = names.cdn_distribution_id()
        if fn.manages_usage_keys:
            plans = {p.id: names.usage_plan(p.id) for p in self.api.usage_plans}
            env["USAGE_PLANS"] = json.dumps(plans, separators=(",", ":"))
        if self.api.authorizer is not None and fn.id == self.api.authorizer.function:
            env["ROUTE_SCOPES"] = self.route_scopes_json()
        elif any(r.auth is not Auth.PUBLIC for r in self.routes_of(fn.id)):
            # The handler's second line (functions/shared/principal.py) checks its own routes' scopes.
            env["ROUTE_SCOPES"] = self.route_scopes_json(fn.id)
        if any(r.auth is Auth.OPTIONAL for r in self.routes_of(fn.id)) or (
            self.api.authorizer is not None and fn.id == self.api.authorizer.function
        ):
            env["OPTIONAL_ROUTES"] = self.optional_routes_json(fn.id)
        if fn.id == self.api.document_function:
            env["API_HANDLER_MODULES"] = ",".join(self.api_handler_modules())
        if self.api.origin_secret is not None and fn.id in self.origin_checkers():
            env["ORIGIN_SECRET_ID"] = names.secret(self.api.origin_secret)
        return env

    def origin_checkers(self) -> frozenset[str]:
        """Functions that check the CDN's origin secret (and may read it): every one serving a route, and
        the authorizer."""
        if self.api.origin_secret is None:
            return frozenset()
        ids = {r.function for r in self.api.routes}
        if self.api.authorizer is not None:
            ids.add(self.api.authorizer.function)
        return frozenset(ids)

    def api_handler_modules(self) -> list[str]:
        """The handler module of every function that serves an API route."""
        return sorted({self.function(r.function).module for r in self.api.routes})

    def route_scopes_json(self, function_id: str | None = None) -> str:
        """Each protected route and the scope it takes: every route (the authorizer builds its policy from
        them), or one function's own (its handler checks them again)."""
        routes = [
            [r.method, r.path, r.scope]
            for r in self.api.routes
            if r.auth is not Auth.PUBLIC and function_id in (None, r.function)
        ]
        return json.dumps(routes, separators=(",", ":"))

    def optional_routes_json(self, function_id: str) -> str:
        """The `Auth.OPTIONAL` routes (method, path template) an anonymous request may reach: every one for
        the authorizer, a function's own for its handler."""
        every = self.api.authorizer is not None and function_id == self.api.authorizer.function
        routes = [
            [r.method, r.path]
            for r in self.api.routes
            if r.auth is Auth.OPTIONAL and (every or r.function == function_id)
        ]
        return json.dumps(routes, separators=(",", ":"))

    def validate(self) -> None:
        """Refuse a topology whose references do not resolve: a typo must fail at import, not deploy."""
        self._validate_unique_ids()
        self._validate_functions()
        self._validate_api()
        self._validate_wiring()
        self._validate_access_logs()

    def _validate_access_logs(self) -> None:
        for access_log in self.access_logs:
            self.bucket(access_log.bucket)
        if len(self.access_logs) > 1:
            raise ValueError("a stage has one access log destination: declare at most one AccessLog")

    def _validate_unique_ids(self) -> None:
        groups = (
            self.functions,
            self.tables,
            self.buckets,
            self.queues,
            self.buses,
            self.secrets,
            self.state_machines,
            self.rules,
            self.schedules,
        )
        for group in groups:
            ids = [item.id for item in group]
            dupes = {i for i in ids if ids.count(i) > 1}
            if dupes:
                raise ValueError(f"duplicate ids: {sorted(dupes)}")

    def _validate_functions(self) -> None:
        for fn in self.functions:
            _ = [self.table(g.resource) for g in fn.tables]
            _ = [self.bucket(g.resource) for g in fn.buckets]
            _ = [self.queue(g.resource) for g in fn.queues]
            _ = [self.bus(b) for b in fn.buses]
            _ = [self.secret(s) for s in fn.secrets]
            _ = [self.state_machine(m) for m in fn.state_machines]
        for secret in self.secrets:
            if (
                secret.derived_from is not None
                and self.secret(secret.derived_from).kind is not SecretKind.RSA_KEYSET
            ):
                raise ValueError(
                    f"secret {secret.id}: derived_from must name an {SecretKind.RSA_KEYSET.value} secret"
                )

    def _validate_api(self) -> None:
        fn_ids = {f.id for f in self.functions}
        seen: set[tuple[str, str]] = set()
        for route in self.api.routes:
            if route.function not in fn_ids:
                raise ValueError(f"route {route.method} {route.path}: unknown function {route.function}")
            if (route.method, route.path) in seen:
                raise ValueError(f"route {route.method} {route.path} declared twice")
            seen.add((route.method, route.path))
            if not route.path.startswith(self.api.prefixes):
                raise ValueError(f"route {route.path} is outside the API prefixes {self.api.prefixes}")
        if self.api.document_function is not None:
            self.function(self.api.document_function)
        if self.api.origin_secret is not None:
            self.secret(self.api.origin_secret)
        if self.api.authorizer is not None:
            self.function(self.api.authorizer.function)
        elif any(r.auth is not Auth.PUBLIC for r in self.api.routes):
            raise ValueError("protected routes need an API authorizer")
        if self.api.usage_key_salt is not None:
            self.secret(self.api.usage_key_salt)
        elif self.api.usage_plans:
            raise ValueError("usage plans need usage_key_salt: the secret metering keys are derived with")
        plan_ids = [p.id for p in self.api.usage_plans]
        if len(plan_ids) != len(set(plan_ids)):
            raise ValueError(f"duplicate usage plans: {plan_ids}")

    def _validate_wiring(self) -> None:
        for machine in self.state_machines:
            _ = [self.function(f) for f in machine.functions]
            _ = [self.table(t) for t in machine.tables]
            _ = [self.bucket(b) for b in machine.buckets]
            _ = [self.bus(b) for b in machine.buses]
        for s3q in self.s3_to_queue:
            self.bucket(s3q.bucket)
            self.queue(s3q.queue)
        for qt in self.queue_triggers:
            # AWS refuses the mapping otherwise: a message must stay hidden while the function works on it.
            if self.queue(qt.queue).visibility_timeout_s < self.function(qt.function).timeout_s:
                raise ValueError(
                    f"queue {qt.queue}: visibility timeout is shorter than {qt.function}'s timeout"
                )
        for st in self.stream_triggers:
            if not self.table(st.table).stream:
                raise ValueError(f"stream trigger on {st.table}, whose stream is off")
            self.function(st.function)
        for rule in self.rules:
            self.bus(rule.bus)
            if rule.function:
                self.function(rule.function)
            if rule.state_machine:
                self.state_machine(rule.state_machine)
        for schedule in self.schedules:
            self.function(schedule.function)
        if self.media is not None:
            self.bucket(self.media.bucket)
            if self.secret(self.media.signing_secret).kind is not SecretKind.MEDIA_TOKEN_KEYS:
                raise ValueError(
                    f"media signing secret {self.media.signing_secret} must hold media token keys"
                )
            _ = [self.function(f) for f in (*self.media.signers, *self.media.invalidators)]


class ResourceNames:
    """How a back end names things. The local cloud uses fixed names; CDK passes tokens."""

    stage: str = "local"

    def table(self, table_id: str) -> str:
        raise NotImplementedError

    def bucket(self, bucket_id: str) -> str:
        raise NotImplementedError

    def queue_url(self, queue_id: str) -> str:
        raise NotImplementedError

    def bus(self, bus_id: str) -> str:
        raise NotImplementedError

    def secret(self, secret_id: str) -> str:
        raise NotImplementedError

    def state_machine_arn(self, machine_id: str) -> str:
        raise NotImplementedError

    def cdn_url(self) -> str:
        """The CDN's public origin (no trailing slash): playback URLs are built from it, never from a request."""
        raise NotImplementedError

    def cdn_distribution_id(self) -> str:
        """The distribution whose cached media is invalidated when a video goes private or is deleted."""
        raise NotImplementedError

    def usage_plan(self, plan_id: str) -> str:
        """An API Gateway usage plan's name (functions find the plan by it)."""
        raise NotImplementedError


def substitutions(
    machine: StateMachine,
    function_arn: Mapping[str, str],
    table: Mapping[str, str],
    bucket: Mapping[str, str],
    bus: Mapping[str, str],
) -> dict[str, str]:
    """The `${...}` values for a state machine's definition file (keys without the `${}`)."""
    values: dict[str, str] = {}
    values.update({f"fn_{f}": function_arn[f] for f in machine.functions})
    values.update({f"table_{t}": table[t] for t in machine.tables})
    values.update({f"bucket_{b}": bucket[b] for b in machine.buckets})
    values.update({f"bus_{b}": bus[b] for b in machine.buses})
    return values


def placeholders(definition: str) -> set[str]:
    return set(re.findall(r"\$\{(\w+)\}", definition))


def _find(items: Iterable[_T], item_id: str, kind: str) -> _T:
    for item in items:
        if getattr(item, "id", None) == item_id:
            return item
    raise KeyError(f"unknown {kind}: {item_id}")
