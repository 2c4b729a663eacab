"""The REST API: every declared route, its authorizer, the stage settings and gateway responses."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk.assertions import Match

from infra.model import Auth, method_not_allowed_body
from tests.infra.conftest import Synthesized
from tests.infra.helpers import logical_id, methods_by_route, policy_statements, props, resources

pytestmark = pytest.mark.infra


def test_every_route_exists_with_its_method_function_and_auth(synthesized: Synthesized) -> None:
    routes = methods_by_route(synthesized.template)
    declared = {(r.method, r.path) for r in synthesized.topology.api.routes}
    assert {route for route in routes if route[0] != "ANY"} == declared
    authorizers = list(resources(synthesized.template, "AWS::ApiGateway::Authorizer"))
    for route in synthesized.topology.api.routes:
        method = routes[(route.method, route.path)]
        function = logical_id(synthesized.stack.compute.functions[route.function])
        assert method["Integration"]["Type"] == "AWS_PROXY"
        assert function in str(method["Integration"]["Uri"]), route
        if route.auth is not Auth.PUBLIC:  # an OPTIONAL route runs the authorizer too
            assert method["AuthorizationType"] == "CUSTOM", route
            assert method["AuthorizerId"] == {"Ref": authorizers[0]}, route
        else:
            assert method["AuthorizationType"] == "NONE", route
            assert "AuthorizerId" not in method, route


def test_request_authorizer_uses_identity_headers_and_ttl(demo: Synthesized) -> None:
    authorizer = demo.topology.api.authorizer
    assert authorizer is not None
    demo.template.has_resource_properties(
        "AWS::ApiGateway::Authorizer",
        {
            "Type": "REQUEST",
            "IdentitySource": ",".join(f"method.request.header.{h}" for h in authorizer.identity_headers),
            "AuthorizerResultTtlInSeconds": authorizer.ttl_s,
        },
    )
    function = logical_id(demo.stack.compute.functions[authorizer.function])
    uri = next(iter(resources(demo.template, "AWS::ApiGateway::Authorizer").values()))["Properties"][
        "AuthorizerUri"
    ]
    assert function in str(uri)


def test_the_real_authorizer_has_no_identity_source_and_no_gateway_cache(skyreel: Synthesized) -> None:
    # "Bearer token OR API key": API Gateway would 401 a request missing any identity source, and it
    # only caches with one, so the authorizer caches its own results (functions/auth/authorizer.py).
    authorizers = resources(skyreel.template, "AWS::ApiGateway::Authorizer")
    assert len(authorizers) == 1
    props = next(iter(authorizers.values()))["Properties"]
    assert props["Type"] == "REQUEST"
    assert not props.get("IdentitySource")
    assert props["AuthorizerResultTtlInSeconds"] == 0


def test_stage_throttling_tracing_and_access_logs(synthesized: Synthesized) -> None:
    api = synthesized.topology.api
    synthesized.template.has_resource_properties(
        "AWS::ApiGateway::Stage",
        {
            "StageName": api.stage,
            "TracingEnabled": True,
            "AccessLogSetting": {"DestinationArn": Match.any_value(), "Format": Match.any_value()},
            "MethodSettings": Match.array_with(
                [
                    Match.object_like(
                        {
                            "HttpMethod": "*",
                            "ResourcePath": "/*",
                            "ThrottlingRateLimit": api.throttle_rate,
                            "ThrottlingBurstLimit": api.throttle_burst,
                        }
                    )
                ]
            ),
        },
    )
    synthesized.template.has_resource_properties(
        "AWS::ApiGateway::RestApi",
        {
            "Name": f"{synthesized.stack.stack_name}-{api.name}",
            "EndpointConfiguration": {"Types": ["REGIONAL"]},
        },
    )


def test_gateway_responses_speak_the_api_error_shape(synthesized: Synthesized) -> None:
    responses = {
        r["Properties"]["ResponseType"]: r["Properties"]
        for r in resources(synthesized.template, "AWS::ApiGateway::GatewayResponse").values()
    }
    for declared in synthesized.topology.api.gateway_responses:
        assert responses[declared.type]["StatusCode"] == str(declared.status)
        assert responses[declared.type]["ResponseTemplates"] == {"application/json": declared.body()}


def test_another_method_on_a_declared_path_is_405_with_allow(synthesized: Synthesized) -> None:
    """Issue 15, finding 2 on AWS: as the local gateway, a declared path answers a method it does not serve
    with 405, `Allow` and the error shape (an ANY method with a mock integration), never running code."""
    routes = methods_by_route(synthesized.template)
    for path, allowed in synthesized.topology.api.methods_by_path().items():
        method = routes[("ANY", path)]
        assert method["AuthorizationType"] == "NONE"
        integration = method["Integration"]
        assert integration["Type"] == "MOCK"
        [response] = integration["IntegrationResponses"]
        assert response["StatusCode"] == "405"
        assert "SelectionPattern" not in response  # the default: whatever the mock returns
        assert response["ResponseParameters"]["method.response.header.Allow"] == f"'{', '.join(allowed)}'"
        assert response["ResponseTemplates"] == {"application/json": method_not_allowed_body(allowed)}
        assert method["MethodResponses"][0]["StatusCode"] == "405"


def test_usage_plans_meter_every_protected_route_by_the_authorizers_key(skyreel: Synthesized) -> None:
    api = skyreel.topology.api
    assert api.usage_plans, "the shipped API declares usage plans"
    rest_api = next(iter(resources(skyreel.template, "AWS::ApiGateway::RestApi").values()))["Properties"]
    assert rest_api["ApiKeySourceType"] == "AUTHORIZER"  # never a header a client sends
    routes = methods_by_route(skyreel.template)
    for route in api.routes:
        assert routes[(route.method, route.path)].get("ApiKeyRequired", False) == (
            route.auth is Auth.PROTECTED
        ), route
    plans = {
        p["Properties"]["UsagePlanName"]: p["Properties"]
        for p in resources(skyreel.template, "AWS::ApiGateway::UsagePlan").values()
    }
    for plan in api.usage_plans:
        [(name, declared)] = [(n, p) for n, p in plans.items() if _ends_with(n, f"-{plan.id}")]
        assert declared["Throttle"] == {"RateLimit": plan.rate_per_s, "BurstLimit": plan.burst}
        assert declared["Quota"] == {"Limit": plan.quota_per_day, "Period": "DAY"}
        assert declared["ApiStages"], name
    throttled = [
        r["Properties"]
        for r in resources(skyreel.template, "AWS::ApiGateway::GatewayResponse").values()
        if r["Properties"]["ResponseType"] == "THROTTLED"
    ]
    assert throttled[0]["ResponseParameters"] == {"gatewayresponse.header.Retry-After": "'1'"}


def test_the_registration_saga_may_manage_usage_keys_and_nothing_else_may(skyreel: Synthesized) -> None:
    for fn in skyreel.topology.functions:
        role = skyreel.stack.compute.functions[fn.id].role
        assert role is not None
        statements = policy_statements(skyreel.template, logical_id(role))
        managing = [s for s in statements if "apigateway:POST" in str(s.get("Action"))]
        assert bool(managing) == fn.manages_usage_keys, fn.id
    env = props(skyreel.template, logical_id(skyreel.stack.compute.functions["auth_registration"]))
    assert "USAGE_PLANS" in env["Environment"]["Variables"]


def _ends_with(name: Any, suffix: str) -> bool:
    """A usage plan's name, a literal or a CloudFormation join (the stack name is a token when env-agnostic),
    ends with `suffix`."""
    if isinstance(name, dict) and "Fn::Join" in name:
        name = name["Fn::Join"][1][-1]
    return isinstance(name, str) and name.endswith(suffix)
