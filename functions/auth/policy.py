"""The IAM policy the authorizer answers with: exactly the routes the caller's scopes allow.

An execute-api resource is `<api>/<stage>/<METHOD>/<path>`, and in IAM `*` matches any characters,
`/` included. So `GET /videos/{id}` as `GET/api/v1/videos/*` also matches `GET /videos/{id}/upload`:
an Allow per route would hand a `videos:read` key the write routes nested under a read route.

Two layers, each exact on its own:

1. **This request.** API Gateway's REQUEST event names the route template it matched (`resource`) and
   the method; their scope decides Allow or Deny of this request's `methodArn`. With the authorizer
   cache off (the topology's TTL is 0) that is the only statement API Gateway ever evaluates.
2. **Every route**, in case someone turns API Gateway's cache on (the cached policy is then evaluated
   against other routes): an Allow per permitted route, plus an explicit Deny for each lacking route
   that some Allow over-matches. IAM has no statement order (an explicit Deny always wins), so a Deny
   is only added if its pattern matches no permitted route; each route is then checked against the
   finished policy with a path parameter value that can equal no literal segment. If no exact
   route-wide policy exists for these scopes, the policy covers this request only: a cached result
   then refuses other routes until it expires (fails closed), never lets one through.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from typing import Any

RouteScopes = Mapping[tuple[str, str], str | None]
_PARAM = re.compile(r"\{[^}]+\}")
# Stands for a path parameter's value when checking the policy: one segment that is no literal.
_OPAQUE_SEGMENT = "\x00param\x00"


def resource_pattern(method: str, path: str) -> str:
    """A route as an execute-api resource (after `<api>/<stage>/`): each `{param}` becomes `*`."""
    return f"{method}{_PARAM.sub('*', path)}"


def _sample(method: str, path: str) -> str:
    return f"{method}{_PARAM.sub(_OPAQUE_SEGMENT, path)}"


@functools.lru_cache(maxsize=256)
def _iam_regex(pattern: str) -> re.Pattern[str]:
    """IAM's resource wildcards: `*` any run of characters (`/` too), `?` any one character."""
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern), re.S)


def iam_match(pattern: str, resource: str) -> bool:
    return _iam_regex(pattern).fullmatch(resource) is not None


def permitted(routes: RouteScopes, scopes: Iterable[str], method: str, resource: str) -> bool:
    """May a caller holding `scopes` call the route template `resource`? An unknown route: no."""
    if (method, resource) not in routes:
        return False
    needed = routes[(method, resource)]
    return needed is None or needed in set(scopes)


def allows(statements: list[dict[str, Any]], resource: str) -> bool:
    """IAM evaluation over execute-api resources: an explicit Deny wins, else some Allow must match."""
    matched = [s["Effect"] for s in statements if any(iam_match(r, resource) for r in s["Resource"])]
    return "Deny" not in matched and "Allow" in matched


def route_statements(routes: RouteScopes, scopes: frozenset[str]) -> list[dict[str, Any]] | None:
    """Allow and Deny statements (resources relative to `<api>/<stage>/`) that are exact for every route,
    or None when the route table admits no exact policy for these scopes."""
    allowed = [r for r in routes if permitted(routes, scopes, *r)]
    lacking = [r for r in routes if r not in allowed]
    allow = sorted({resource_pattern(*r) for r in allowed})
    deny = []
    for route in lacking:
        if not any(iam_match(p, _sample(*route)) for p in allow):
            continue  # nothing allows it: the implicit deny is enough
        pattern = resource_pattern(*route)
        if any(iam_match(pattern, _sample(*r)) for r in allowed):
            return None  # its only Deny would also refuse a permitted route
        deny.append(pattern)
    statements = []
    if allow:
        statements.append({"Effect": "Allow", "Resource": allow})
    if deny:
        statements.append({"Effect": "Deny", "Resource": sorted(set(deny))})
    exact = all(allows(statements, _sample(*r)) == (r in allowed) for r in routes)
    return statements if exact else None


@functools.lru_cache(maxsize=64)
def _route_statements_cached(
    routes: tuple[tuple[tuple[str, str], str | None], ...], scopes: frozenset[str]
) -> list[dict[str, Any]] | None:
    return route_statements(dict(routes), scopes)


def policy_document(
    routes: RouteScopes, scopes: Iterable[str], method_arn: str, method: str, resource: str
) -> dict[str, Any]:
    """The policy for a caller holding `scopes` whose request is `method resource` at `method_arn`."""
    arn_base = "/".join(method_arn.split("/", 2)[:2])  # arn:aws:execute-api:region:account:api-id/stage
    this_request = permitted(routes, scopes, method, resource)
    relative = _route_statements_cached(tuple(sorted(routes.items())), frozenset(scopes)) or []
    statements = [{**s, "Resource": [f"{arn_base}/{r}" for r in s["Resource"]]} for s in relative]
    # Layer 1, whatever layer 2 says: this request's own decision, exact from its route template.
    if not this_request:
        statements.append({"Effect": "Deny", "Resource": [method_arn]})
    elif not allows(statements, method_arn):
        statements = [{"Effect": "Allow", "Resource": [method_arn]}]
    return {
        "Version": "2012-10-17",
        "Statement": [{"Action": "execute-api:Invoke", **s} for s in statements],
    }
