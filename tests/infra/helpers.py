"""Small readers over synthesized templates, so assertions talk in topology terms."""

from __future__ import annotations

import re
from typing import Any

from aws_cdk import CfnElement, Stack
from aws_cdk.assertions import Template
from constructs import IConstruct


def resources(template: Template, resource_type: str) -> dict[str, dict[str, Any]]:
    return {k: dict(v) for k, v in template.find_resources(resource_type).items()}


def props(template: Template, logical_id: str) -> dict[str, Any]:
    resource: dict[str, Any] = template.to_json()["Resources"][logical_id]
    properties: dict[str, Any] = resource.get("Properties", {})
    return properties


def logical_id(construct: IConstruct) -> str:
    """The CloudFormation logical id of an L2 construct's main resource."""
    child = construct.node.default_child
    assert isinstance(child, CfnElement)
    return Stack.of(construct).get_logical_id(child)


def ref(construct: IConstruct) -> dict[str, str]:
    return {"Ref": logical_id(construct)}


def api_paths(template: Template) -> dict[str, str]:
    """Logical id of every API Gateway resource -> its full path, rebuilt from PathPart/ParentId."""
    nodes = resources(template, "AWS::ApiGateway::Resource")
    paths: dict[str, str] = {}

    def path_of(resource_id: str) -> str:
        if resource_id not in paths:
            parent = nodes[resource_id]["Properties"]["ParentId"]
            prefix = path_of(parent["Ref"]) if "Ref" in parent else ""  # GetAtt RootResourceId = the root
            paths[resource_id] = f"{prefix}/{nodes[resource_id]['Properties']['PathPart']}"
        return paths[resource_id]

    for resource_id in nodes:
        path_of(resource_id)
    return paths


def methods_by_route(template: Template) -> dict[tuple[str, str], dict[str, Any]]:
    """(HTTP method, full path) -> the AWS::ApiGateway::Method properties."""
    paths = api_paths(template)
    routes: dict[tuple[str, str], dict[str, Any]] = {}
    for method in resources(template, "AWS::ApiGateway::Method").values():
        properties = method["Properties"]
        resource = properties["ResourceId"]
        path = paths[resource["Ref"]] if "Ref" in resource else "/"
        routes[(properties["HttpMethod"], path)] = properties
    return routes


def policy_statements(template: Template, role_logical_id: str) -> list[dict[str, Any]]:
    """Every statement of the inline policies attached to one role."""
    statements: list[dict[str, Any]] = []
    for policy in resources(template, "AWS::IAM::Policy").values():
        if {"Ref": role_logical_id} in policy["Properties"]["Roles"]:
            statements += policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


def actions_on(statements: list[dict[str, Any]], resource: Any) -> set[str]:
    """The actions the statements allow on a resource (matching its ARN expression exactly)."""
    allowed: set[str] = set()
    for statement in statements:
        targets = (
            statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        )
        if resource in targets:
            actions = statement["Action"]
            allowed |= set(actions if isinstance(actions, list) else [actions])
    return allowed


def dependencies(template: Template) -> dict[str, set[str]]:
    """Logical id -> the resources it needs first (Ref, Fn::GetAtt, Fn::Sub references and DependsOn)."""
    resources_json: dict[str, Any] = template.to_json()["Resources"]
    ids = set(resources_json)

    def walk(node: Any, found: set[str]) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "Ref" and value in ids:
                    found.add(value)
                elif key == "Fn::GetAtt":
                    target = value[0] if isinstance(value, list) else str(value).split(".")[0]
                    found.add(target)
                elif key == "Fn::Sub":
                    text = value[0] if isinstance(value, list) else value
                    found.update(n.split(".")[0] for n in re.findall(r"\$\{([^}!]+)\}", text))
                walk(value, found)
        elif isinstance(node, list):
            for item in node:
                walk(item, found)

    graph: dict[str, set[str]] = {}
    for resource_id, resource in resources_json.items():
        found: set[str] = set()
        walk(resource.get("Properties", {}), found)
        depends = resource.get("DependsOn", [])
        found.update([depends] if isinstance(depends, str) else depends)
        graph[resource_id] = found & ids
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str]:
    """One dependency cycle (as a path that ends where it starts), or [] when there is none."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return []

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return []
