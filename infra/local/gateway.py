"""API Gateway (REST, Lambda proxy) semantics with no HTTP server in them, so they test in isolation.

Given a request, `ApiGateway.handle` does what API Gateway does: match a declared route, throttle,
run the REQUEST authorizer (with its result cache), build the proxy event, invoke the function and
turn its proxy response (or its failure) into an HTTP response. The front door adds the sockets.
"""

from __future__ import annotations

import base64
import fnmatch
import json
import math
import re
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from datetime import time as dt_time
from typing import Any

from cachetools import LRUCache

from infra.local.accesslog import access_record
from infra.local.names import ACCOUNT, REGION
from infra.local.runtime import InvocationError, ThrottledError
from infra.model import Api, Auth, Authorizer, Route, method_not_allowed_body

API_ID = "local"
LOCAL_STAGE = "local"

Invoke = Callable[[str, Any], Any]  # (function id, event) -> result; raises InvocationError


@dataclass
class HttpRequest:
    method: str
    path: str
    headers: Sequence[tuple[str, str]]  # as received, repeated names kept
    query: Sequence[tuple[str, str]]
    body: bytes
    source_ip: str
    host: str


@dataclass
class HttpResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    function: str | None = None


# What a REQUEST authorizer is given of the request, as API Gateway passes it.
_AUTHORIZER_EVENT_KEYS = (
    "resource",
    "path",
    "httpMethod",
    "headers",
    "multiValueHeaders",
    "queryStringParameters",
    "multiValueQueryStringParameters",
    "pathParameters",
    "stageVariables",
    "requestContext",
)


@dataclass
class _CachedPolicy:
    principal_id: str
    policy: dict[str, Any]
    context: dict[str, Any]
    expires: float
    usage_key: str | None = None  # the authorizer's usageIdentifierKey


UsagePlanOf = Callable[[str], str | None]  # an API key's value -> the id of the usage plan it is on


class _TokenBucket:
    """The stage throttle: `rate` requests a second on average, bursts of up to `burst`."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.capacity = float(rate), float(burst)
        self.tokens, self.updated = float(burst), time.monotonic()
        self.lock = threading.Lock()

    def take(self) -> bool:
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
            self.updated = now
            if self.tokens < 1:
                return False
            self.tokens -= 1
            return True

    def retry_after_s(self) -> int:
        """Whole seconds until the next token (what a 429's Retry-After says): at least 1."""
        with self.lock:
            return max(1, math.ceil((1 - self.tokens) / self.rate))


def _multi(pairs: Sequence[tuple[str, str]]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for key, value in pairs:
        grouped.setdefault(key, []).append(value)
    return grouped


def _single(multi: Mapping[str, list[str]]) -> dict[str, str]:
    return {k: v[-1] for k, v in multi.items()}


def _stringify_context(context: Mapping[str, Any]) -> dict[str, Any]:
    """API Gateway passes authorizer context values through only as string, number or boolean."""
    return {k: v for k, v in context.items() if isinstance(v, str | int | float | bool)}


def _allows(policy: Mapping[str, Any], method_arn: str) -> bool:
    """IAM evaluation for execute-api: an explicit Deny wins, else some Allow must match."""
    allowed = False
    statements = policy.get("Statement", [])
    for statement in statements if isinstance(statements, list) else [statements]:
        actions = statement.get("Action", [])
        actions = actions if isinstance(actions, list) else [actions]
        if not any(fnmatch.fnmatchcase("execute-api:Invoke", a) for a in actions):
            continue
        resources = statement.get("Resource", [])
        resources = resources if isinstance(resources, list) else [resources]
        if any(fnmatch.fnmatchcase(method_arn, r) for r in resources):
            if statement.get("Effect") == "Deny":
                return False
            allowed = allowed or statement.get("Effect") == "Allow"
    return allowed


@dataclass
class ApiGateway:
    api: Api
    invoke: Invoke
    _routes: list[tuple[Route, re.Pattern[str]]] = field(init=False)
    _cache: dict[tuple[str, ...], _CachedPolicy] = field(init=False, default_factory=dict)
    _cache_lock: threading.Lock = field(init=False, default_factory=threading.Lock)
    # Where a metered caller's key is looked up (the usage plans of the local AWS endpoint).
    usage_plan_of: UsagePlanOf | None = None
    authorizer_calls: int = field(init=False, default=0)
    # Given each request's access record once its response is made: the stage's access log (accesslog.py).
    access_log: Callable[[dict[str, str]], None] | None = None

    def __post_init__(self) -> None:
        # Static segments beat parameters, as API Gateway picks the most specific resource.
        ordered = sorted(self.api.routes, key=lambda r: (r.path.count("{"), -len(r.path)))
        self._routes = [(route, route.regex()) for route in ordered]
        self._methods = self.api.methods_by_path()
        self._paths = list(dict.fromkeys((route.path, pattern) for route, pattern in self._routes))
        self._throttle = _TokenBucket(self.api.throttle_rate, self.api.throttle_burst)
        self._plans = {plan.id: plan for plan in self.api.usage_plans}
        # Per caller and plan: bounded, as a flood of distinct keys must not grow the process.
        self._caller_buckets: LRUCache[tuple[str, str], _TokenBucket] = LRUCache(maxsize=100_000)
        self._quota_used: LRUCache[tuple[str, str, str], int] = LRUCache(maxsize=100_000)
        self._meter_lock = threading.Lock()

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        for route, pattern in self._routes:
            found = pattern.match(path)
            if found and route.method == method:
                return route, found.groupdict()
        return None

    def allowed_methods(self, path: str) -> tuple[str, ...]:
        """The methods of the declared path `path` falls on (a path matching none: ())."""
        for template, pattern in self._paths:
            if pattern.match(path):
                return self._methods[template]
        return ()

    def _gateway(
        self, response_type: str, request_id: str, extra: list[tuple[str, str]] | None = None
    ) -> HttpResponse:
        response = self.api.gateway_response(response_type)
        headers = [
            ("content-type", "application/json"),
            ("x-amzn-requestid", request_id),
            ("x-amzn-errortype", response_type),
        ]
        return HttpResponse(response.status, headers + (extra or []), response.body().encode())

    def handle(self, request: HttpRequest) -> HttpResponse:
        started, started_epoch_s = time.perf_counter(), time.time()
        request_id = str(uuid.uuid4())
        seen: dict[str, Any] = {}  # what the access log names: the route, the authorizer's context
        response = self._handle(request, request_id, seen)
        if self.access_log is not None:
            latency_ms = (time.perf_counter() - started) * 1000
            self.access_log(
                access_record(
                    request_id,
                    started_epoch_s,
                    request.method,
                    seen.get("route"),
                    response.status,
                    latency_ms,
                    seen.get("authorizer"),
                )
            )
        return response

    def _handle(self, request: HttpRequest, request_id: str, seen: dict[str, Any]) -> HttpResponse:
        matched = self.match(request.method, request.path)
        if matched is None:
            allowed = self.allowed_methods(request.path)
            if allowed:  # infra/aws/api.py answers the same from an ANY method on the resource
                headers = [("content-type", "application/json"), ("allow", ", ".join(allowed))]
                body = method_not_allowed_body(allowed).encode()
                return HttpResponse(405, [*headers, ("x-amzn-requestid", request_id)], body)
            return self._gateway("MISSING_AUTHENTICATION_TOKEN", request_id)
        route, path_params = matched
        seen["route"] = route.path
        if len(request.body) > self.api.max_body_bytes:
            return self._gateway("REQUEST_TOO_LARGE", request_id)
        if not self._throttle.take():
            return self._gateway("THROTTLED", request_id, [("retry-after", "1")])
        event = self._proxy_event(request, route, path_params, request_id)
        if route.auth is not Auth.PUBLIC:  # OPTIONAL too: the authorizer lets an anonymous request through
            denied = self._authorize(event, request_id)
            seen["authorizer"] = event["requestContext"].get("authorizer")
            if denied is None and self._plans and route.auth is Auth.PROTECTED:
                denied = self._meter(event["requestContext"]["identity"].get("apiKey"), request_id)
            if denied is not None:
                return denied
        try:
            result = self.invoke(route.function, event)
        except ThrottledError:
            return self._gateway("THROTTLED", request_id)
        except InvocationError as exc:
            kind = "INTEGRATION_TIMEOUT" if exc.error_type == "Sandbox.Timedout" else "INTEGRATION_FAILURE"
            return self._gateway(kind, request_id)
        response = self._proxy_response(result, request_id)
        response.function = route.function
        return response

    def _method_arn(self, method: str, path: str) -> str:
        return f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{API_ID}/{LOCAL_STAGE}/{method}{path}"

    def _proxy_event(
        self, request: HttpRequest, route: Route, path_params: dict[str, str], request_id: str
    ) -> dict[str, Any]:
        multi_headers = _multi(request.headers)
        multi_query = _multi(request.query)
        now = datetime.now(UTC)
        body: str | None = None
        is_base64 = False
        if request.body:
            try:
                body = request.body.decode("utf-8")
            except UnicodeDecodeError:
                body, is_base64 = base64.b64encode(request.body).decode(), True
        user_agent = _single(multi_headers).get("user-agent", "")
        return {
            "resource": route.path,
            "path": request.path,
            "httpMethod": request.method,
            "headers": _single(multi_headers),
            "multiValueHeaders": multi_headers,
            "queryStringParameters": _single(multi_query) or None,
            "multiValueQueryStringParameters": multi_query or None,
            "pathParameters": path_params or None,
            "stageVariables": None,
            "requestContext": {
                "accountId": ACCOUNT,
                "apiId": API_ID,
                "resourceId": route.path,
                "resourcePath": route.path,
                "httpMethod": request.method,
                "path": f"/{LOCAL_STAGE}{request.path}",
                "protocol": "HTTP/1.1",
                "stage": LOCAL_STAGE,
                "domainName": request.host,
                "requestId": request_id,
                "extendedRequestId": request_id,
                "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
                "requestTimeEpoch": int(now.timestamp() * 1000),
                "identity": {"sourceIp": request.source_ip, "userAgent": user_agent},
            },
            "body": body,
            "isBase64Encoded": is_base64,
        }

    def _authorize(self, event: dict[str, Any], request_id: str) -> HttpResponse | None:
        authorizer = self.api.authorizer
        assert authorizer is not None  # the topology refuses protected routes without one
        headers = {k.lower(): v for k, v in event["headers"].items()}
        identity = tuple(headers.get(h.lower(), "") for h in authorizer.identity_headers)
        if authorizer.identity_headers and not all(identity):
            return self._gateway("UNAUTHORIZED", request_id)
        method_arn = self._method_arn(event["httpMethod"], event["path"])
        caching = bool(authorizer.identity_headers and authorizer.ttl_s)
        cached = self._cached(identity) if caching else None
        if cached is None:
            outcome = self._ask_authorizer(authorizer, event, method_arn)
            if isinstance(outcome, str):
                return self._gateway(outcome, request_id)
            cached = outcome
            if caching:
                with self._cache_lock:
                    self._cache[identity] = cached
        # Set before the policy is checked: a denied request's access record names its caller too.
        event["requestContext"]["authorizer"] = {"principalId": cached.principal_id, **cached.context}
        if not _allows(cached.policy, method_arn):
            return self._gateway("ACCESS_DENIED", request_id)
        if cached.usage_key and self._plans:  # API Gateway names the metering key here
            event["requestContext"]["identity"]["apiKey"] = cached.usage_key
        return None

    def _ask_authorizer(
        self, authorizer: Authorizer, event: dict[str, Any], method_arn: str
    ) -> _CachedPolicy | str:
        """Invoke the REQUEST authorizer: its policy, or the gateway response type that answers instead."""
        auth_event = {
            "type": "REQUEST",
            "methodArn": method_arn,
            **{key: event[key] for key in _AUTHORIZER_EVENT_KEYS},
        }
        self.authorizer_calls += 1
        try:
            result = self.invoke(authorizer.function, auth_event)
        except InvocationError as exc:
            # "Unauthorized" is the documented way for an authorizer to say 401.
            return "UNAUTHORIZED" if exc.message == "Unauthorized" else "AUTHORIZER_FAILURE"
        if not isinstance(result, dict) or "policyDocument" not in result:
            return "AUTHORIZER_FAILURE"
        return _CachedPolicy(
            str(result.get("principalId", "")),
            result["policyDocument"],
            _stringify_context(result.get("context") or {}),
            time.monotonic() + authorizer.ttl_s,
            result.get("usageIdentifierKey") or None,
        )

    def _meter(self, usage_key: str | None, request_id: str) -> HttpResponse | None:
        """A usage plan's per-caller token bucket and daily quota, keyed on the authorizer's
        usageIdentifierKey: a key on no plan is refused (403), a caller past its limits gets 429."""
        plan_id = usage_key and self.usage_plan_of and self.usage_plan_of(usage_key)
        plan = self._plans.get(plan_id) if plan_id else None
        if usage_key is None or plan is None:
            return self._gateway("INVALID_API_KEY", request_id)
        with self._meter_lock:
            bucket = self._caller_buckets.get((usage_key, plan.id))
            if bucket is None:
                bucket = self._caller_buckets[(usage_key, plan.id)] = _TokenBucket(
                    plan.rate_per_s, plan.burst
                )
        if not bucket.take():
            return self._gateway("THROTTLED", request_id, [("retry-after", str(bucket.retry_after_s()))])
        if plan.quota_per_day is not None:
            now = datetime.now(UTC)
            day = (usage_key, plan.id, now.date().isoformat())
            with self._meter_lock:
                used = self._quota_used.get(day, 0)
                if used >= plan.quota_per_day:
                    midnight = datetime.combine(now.date() + timedelta(days=1), dt_time(), UTC)
                    wait = str(max(1, math.ceil((midnight - now).total_seconds())))
                    return self._gateway("QUOTA_EXCEEDED", request_id, [("retry-after", wait)])
                self._quota_used[day] = used + 1
        return None

    def _cached(self, identity: tuple[str, ...]) -> _CachedPolicy | None:
        with self._cache_lock:
            entry = self._cache.get(identity)
            if entry and entry.expires > time.monotonic():
                return entry
            self._cache.pop(identity, None)
            return None

    def _proxy_response(self, result: Any, request_id: str) -> HttpResponse:
        if not isinstance(result, dict) or not isinstance(result.get("statusCode"), int):
            return self._gateway("INTEGRATION_FAILURE", request_id)
        headers: list[tuple[str, str]] = [
            (k.lower(), str(v)) for k, v in (result.get("headers") or {}).items()
        ]
        for key, values in (result.get("multiValueHeaders") or {}).items():
            headers = [h for h in headers if h[0] != key.lower()]
            headers.extend((key.lower(), str(v)) for v in values)
        raw = result.get("body") or ""
        body = base64.b64decode(raw) if result.get("isBase64Encoded") else str(raw).encode()
        headers.append(("x-amzn-requestid", request_id))
        return HttpResponse(result["statusCode"], headers, body)


def json_body(response: HttpResponse) -> Any:
    return json.loads(response.body)
