"""API Gateway semantics of the local front door, with stand-in functions (the behaviour under test is
the gateway's: routing, throttling, the authorizer and its cache, and how function failures surface)."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from infra.local.gateway import ApiGateway, HttpRequest, _TokenBucket, json_body
from infra.local.runtime import InvocationError, ThrottledError
from infra.model import Api, Auth, Authorizer, Route, UsagePlan


def allow(principal: str, resource: str = "*", context: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "principalId": principal,
        "context": context or {},
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": resource}],
        },
    }


class Functions:
    """Records every event and answers per function id."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []
        self.answers: dict[str, Any] = {}

    def __call__(self, function_id: str, event: Any) -> Any:
        self.events.append((function_id, event))
        answer = self.answers.get(function_id, {"statusCode": 200, "body": json.dumps({"fn": function_id})})
        if isinstance(answer, Exception):
            raise answer
        return answer(event) if callable(answer) else answer


def api(**kwargs: Any) -> Api:
    return Api(
        name="t",
        routes=(
            Route("GET", "/api/v1/videos", "list", Auth.PROTECTED),
            Route("GET", "/api/v1/videos/{id}", "get", Auth.PROTECTED),
            Route("GET", "/api/v1/videos/popular", "popular", Auth.PUBLIC),
            Route("POST", "/api/v1/upload", "upload", Auth.PUBLIC),
        ),
        authorizer=Authorizer("authz", identity_headers=("Authorization",), ttl_s=300),
        **kwargs,
    )


def request(
    method: str,
    path: str,
    headers: dict[str, str] | None = None,
    body: bytes = b"",
    query: list[tuple[str, str]] | None = None,
) -> HttpRequest:
    return HttpRequest(
        method, path, list((headers or {}).items()), query or [], body, "127.0.0.1", "localhost"
    )


@pytest.fixture
def fns() -> Functions:
    f = Functions()
    f.answers["authz"] = lambda event: allow(
        "user-1", context={"scopes": "videos:read", "n": 3, "nested": {"x": 1}}
    )
    return f


def test_static_segment_beats_parameter_and_params_reach_the_event(fns: Functions) -> None:
    gw = ApiGateway(api(), fns)
    assert json_body(gw.handle(request("GET", "/api/v1/videos/popular"))) == {"fn": "popular"}
    gw.handle(
        request("GET", "/api/v1/videos/abc", {"Authorization": "Bearer t"}, query=[("a", "1"), ("a", "2")])
    )
    fid, event = fns.events[-1]
    assert fid == "get"
    assert event["pathParameters"] == {"id": "abc"}
    assert event["resource"] == "/api/v1/videos/{id}"
    assert event["multiValueQueryStringParameters"] == {"a": ["1", "2"]}
    assert event["queryStringParameters"] == {"a": "2"}


def test_an_unknown_path_is_404_in_the_error_shape(fns: Functions) -> None:
    for method, path in (("GET", "/api/v1/nothing"), ("TRACE", "/api/v1"), ("GET", "/api/v1/videos/a/b")):
        response = ApiGateway(api(), fns).handle(request(method, path))
        assert response.status == 404
        assert ("content-type", "application/json") in response.headers
        assert json_body(response)["error"]["code"] == "not_found"
    assert fns.events == []


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("DELETE", "/api/v1/videos/popular", "GET"),
        ("PUT", "/api/v1/videos/abc", "GET"),
        ("TRACE", "/api/v1/videos", "GET"),
        ("QUERY", "/api/v1/upload", "POST"),
        ("HEAD", "/api/v1/videos/abc", "GET"),
    ],
)
def test_a_declared_path_with_another_method_is_405_with_allow(
    fns: Functions, method: str, path: str, allow: str
) -> None:
    """Issue 15, finding 2: a documented path answers a method it does not serve with 405 and `Allow`
    (was 404), before any authorizer or function runs."""
    response = ApiGateway(api(), fns).handle(request(method, path))
    assert response.status == 405
    assert ("allow", allow) in response.headers
    assert ("content-type", "application/json") in response.headers
    assert json_body(response)["error"]["code"] == "method_not_allowed"
    assert fns.events == []


def test_allow_lists_every_method_of_the_path(fns: Functions) -> None:
    routes = (
        Route("GET", "/v/{id}", "get"),
        Route("PATCH", "/v/{id}", "get"),
        Route("DELETE", "/v/{id}", "get"),
    )
    gw = ApiGateway(Api(name="t", routes=routes, authorizer=Authorizer("authz")), fns)
    assert ("allow", "DELETE, GET, PATCH") in gw.handle(request("PUT", "/v/1")).headers


def test_missing_identity_is_401_without_calling_the_authorizer(fns: Functions) -> None:
    gw = ApiGateway(api(), fns)
    response = gw.handle(request("GET", "/api/v1/videos"))
    assert response.status == 401
    assert json_body(response)["error"]["code"] == "unauthenticated"
    assert gw.authorizer_calls == 0


def test_authorizer_result_is_cached_per_identity_and_context_passed(fns: Functions) -> None:
    gw = ApiGateway(api(), fns)
    for _ in range(3):
        assert gw.handle(request("GET", "/api/v1/videos", {"Authorization": "Bearer a"})).status == 200
    gw.handle(request("GET", "/api/v1/videos", {"Authorization": "Bearer b"}))
    assert gw.authorizer_calls == 2
    _, event = fns.events[-1]
    assert event["requestContext"]["authorizer"] == {"principalId": "user-1", "scopes": "videos:read", "n": 3}


def test_the_authorizer_event_names_the_route_template_and_method(fns: Functions) -> None:
    """As API Gateway's REQUEST event does: the authorizer decides from (method, template), exactly."""
    gw = ApiGateway(api(), fns)
    gw.handle(request("GET", "/api/v1/videos/v-1", {"Authorization": "Bearer a"}))
    [(_, event)] = [e for e in fns.events if e[0] == "authz"]
    assert event["type"] == "REQUEST"
    assert (event["httpMethod"], event["resource"]) == ("GET", "/api/v1/videos/{id}")
    assert event["methodArn"].endswith("/local/GET/api/v1/videos/v-1")


def test_unauthorized_error_is_401_and_deny_is_403(fns: Functions) -> None:
    fns.answers["authz"] = InvocationError("Exception", "Unauthorized")
    assert (
        ApiGateway(api(), fns).handle(request("GET", "/api/v1/videos", {"Authorization": "x"})).status == 401
    )
    fns.answers["authz"] = lambda e: allow("u", resource="arn:aws:execute-api:*:*:*/*/GET/api/v1/videos/*")
    gw = ApiGateway(api(), fns)
    assert gw.handle(request("GET", "/api/v1/videos", {"Authorization": "x"})).status == 403
    assert gw.handle(request("GET", "/api/v1/videos/abc", {"Authorization": "x"})).status == 200


def test_authorizer_crash_is_500(fns: Functions) -> None:
    fns.answers["authz"] = InvocationError("KeyError", "boom")
    response = ApiGateway(api(), fns).handle(request("GET", "/api/v1/videos", {"Authorization": "x"}))
    assert response.status == 500


@pytest.mark.parametrize(
    ("failure", "status"),
    [
        (InvocationError("ValueError", "bad"), 502),
        (InvocationError("Sandbox.Timedout", "Task timed out after 1.00 seconds"), 504),
        (ThrottledError("upload"), 429),
    ],
)
def test_function_failures_surface_as_gateway_errors(fns: Functions, failure: Exception, status: int) -> None:
    fns.answers["upload"] = failure
    response = ApiGateway(api(), fns).handle(request("POST", "/api/v1/upload"))
    assert response.status == status
    assert set(json_body(response)["error"]) == {"code", "message", "details"}


def test_malformed_proxy_response_is_502(fns: Functions) -> None:
    fns.answers["upload"] = {"body": "no status"}
    assert ApiGateway(api(), fns).handle(request("POST", "/api/v1/upload")).status == 502


def test_binary_body_is_base64_and_oversize_is_413(fns: Functions) -> None:
    gw = ApiGateway(api(max_body_bytes=16), fns)
    gw.handle(request("POST", "/api/v1/upload", body=b"\xff\xfe\x00"))
    assert fns.events[-1][1]["isBase64Encoded"] is True
    assert gw.handle(request("POST", "/api/v1/upload", body=b"x" * 17)).status == 413


def test_stage_throttle_answers_429_past_the_burst(fns: Functions) -> None:
    gw = ApiGateway(api(throttle_rate=1, throttle_burst=3), fns)
    statuses = [gw.handle(request("GET", "/api/v1/videos/popular")).status for _ in range(5)]
    assert statuses[:3] == [200, 200, 200]
    assert 429 in statuses[3:]


def test_multi_value_headers_from_the_function_are_kept(fns: Functions) -> None:
    fns.answers["upload"] = {
        "statusCode": 201,
        "body": "",
        "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"]},
    }
    response = ApiGateway(api(), fns).handle(request("POST", "/api/v1/upload"))
    assert [v for k, v in response.headers if k == "set-cookie"] == ["a=1", "b=2"]


# --- usage plans: a token bucket and a daily quota per caller ------------------------------------------


def test_the_token_bucket_refills_at_its_rate_up_to_its_burst() -> None:
    bucket = _TokenBucket(rate=20, burst=2)
    assert [bucket.take() for _ in range(3)] == [True, True, False]
    assert bucket.retry_after_s() == 1  # a whole second at least: what Retry-After can say
    time.sleep(0.06)  # a little over one token's worth at 20/s
    assert bucket.take()
    assert not bucket.take()
    time.sleep(0.3)  # long enough for six tokens, but the burst caps it at two
    assert [bucket.take() for _ in range(3)] == [True, True, False]
    slow = _TokenBucket(rate=0.25, burst=1)
    assert slow.take()
    assert not slow.take()
    assert slow.retry_after_s() == 4


def metered_api(**plan: Any) -> Api:
    return api(
        usage_plans=(UsagePlan("tiny", **{"rate_per_s": 0.5, "burst": 3, **plan}),), usage_key_salt="s"
    )


@pytest.fixture
def metered(fns: Functions) -> Functions:
    def authorize(event: dict[str, Any]) -> dict[str, Any]:
        caller = event["headers"]["Authorization"].removeprefix("Bearer ")
        return {**allow(caller), "usageIdentifierKey": f"key-{caller}"}

    fns.answers["authz"] = authorize
    return fns


def test_a_caller_past_its_burst_gets_429_with_retry_after_and_others_do_not(metered: Functions) -> None:
    plans = {"key-a": "tiny", "key-b": "tiny"}
    gw = ApiGateway(metered_api(), metered, usage_plan_of=plans.get)
    a = [gw.handle(request("GET", "/api/v1/videos", {"Authorization": "Bearer a"})) for _ in range(5)]
    assert [r.status for r in a] == [200, 200, 200, 429, 429]
    assert json_body(a[3])["error"]["code"] == "throttled"
    assert dict(a[3].headers)["retry-after"] == "2"  # one token at 0.5/s
    assert gw.handle(request("GET", "/api/v1/videos", {"Authorization": "Bearer b"})).status == 200
    assert gw.handle(request("GET", "/api/v1/videos/popular")).status == 200  # public routes: not metered
    _, event = metered.events[-2]
    assert event["requestContext"]["identity"]["apiKey"] == "key-b"  # as API Gateway names it


def test_a_key_on_no_plan_is_403(metered: Functions) -> None:
    gw = ApiGateway(metered_api(), metered, usage_plan_of={"key-a": "tiny"}.get)
    response = gw.handle(request("GET", "/api/v1/videos", {"Authorization": "Bearer stranger"}))
    assert response.status == 403
    assert json_body(response)["error"]["code"] == "forbidden"


def test_a_daily_quota_is_429_until_midnight(metered: Functions) -> None:
    gw = ApiGateway(
        metered_api(rate_per_s=100, burst=100, quota_per_day=2), metered, usage_plan_of=lambda k: "tiny"
    )
    statuses = [gw.handle(request("GET", "/api/v1/videos", {"Authorization": "Bearer a"})) for _ in range(3)]
    assert [r.status for r in statuses] == [200, 200, 429]
    assert json_body(statuses[2])["error"]["code"] == "quota_exceeded"
    assert 1 <= int(dict(statuses[2].headers)["retry-after"]) <= 86400


def test_an_optional_route_runs_the_authorizer_and_is_not_metered(fns: Functions) -> None:
    """Auth.OPTIONAL: the authorizer decides (here it lets the anonymous request through with no user, as
    functions/auth/authorizer.py does), and no usage plan meters it: an anonymous caller has no key."""
    routes = (Route("POST", "/api/v1/videos/{id}/views", "beacon", Auth.OPTIONAL),)
    optional = Api(
        name="t",
        routes=routes,
        authorizer=Authorizer("authz"),
        usage_plans=(UsagePlan("tiny", rate_per_s=0.5, burst=1),),
        usage_key_salt="s",
    )
    fns.answers["authz"] = lambda event: allow("anonymous", context={"anonymous": "true"})
    gw = ApiGateway(optional, fns, usage_plan_of=lambda key: None)
    assert [gw.handle(request("POST", "/api/v1/videos/v1/views")).status for _ in range(3)] == [200] * 3
    calls = [name for name, _ in fns.events]
    assert calls == ["authz", "beacon"] * 3
    assert fns.events[-1][1]["requestContext"]["authorizer"]["anonymous"] == "true"
