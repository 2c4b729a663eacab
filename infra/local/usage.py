"""Usage plans in the local cloud: the plans in the local AWS endpoint, each account's key on its plan,
and the lookup the gateway meters with.

As in AWS, a plan is an API Gateway usage plan (moto's) and an account's metering key is an API key on
it, made by the registration saga. moto keeps no state across restarts, so on start the keys are made
again from what the auth table says: every account's PROFILE and its `plan` (the same code the saga
runs, functions/auth/usage_plans.py UsageKeys). That is also how accounts made before usage plans get a key.
"""

from __future__ import annotations

import threading
from typing import Any

from cachetools import TTLCache

from functions.auth.dal import UserTable
from functions.auth.logic import backfill_usage_keys
from functions.auth.usage_plans import UsageKeys
from infra.local.names import LocalNames
from infra.model import Topology

LOOKUP_TTL_S = 1.0  # a key moved to another plan is metered by the new one within this long


def create_plans(topology: Topology, names: LocalNames, apigw: Any) -> None:
    existing = {p["name"] for p in apigw.get_usage_plans()["items"]}
    for plan in topology.api.usage_plans:
        name = names.usage_plan(plan.id)
        if name in existing:
            continue
        request: dict[str, Any] = {
            "name": name,
            "throttle": {"rateLimit": plan.rate_per_s, "burstLimit": plan.burst},
        }
        if plan.quota_per_day is not None:
            request["quota"] = {"limit": plan.quota_per_day, "period": "DAY"}
        apigw.create_usage_plan(**request)


def reconcile_keys(topology: Topology, names: LocalNames, aws: Any, salt: str) -> int:
    """Every account with a profile gets its key on its profile's plan: the backfill AWS runs by hand
    (functions/auth/usage_backfill.py), run here on every start. Returns how many accounts were checked."""
    plans = {p.id: names.usage_plan(p.id) for p in topology.api.usage_plans}
    if not plans:
        return 0
    apigw, ddb = aws.client("apigateway"), aws.client("dynamodb")
    keys = UsageKeys(plans, lambda: salt, lambda: apigw)
    return backfill_usage_keys(UserTable(names.table("auth"), lambda: ddb), keys)


class PlanDirectory:
    """Which usage plan an API key value is on, read from the local AWS endpoint (briefly cached)."""

    def __init__(self, topology: Topology, names: LocalNames, apigw: Any) -> None:
        self._plan_by_name = {names.usage_plan(p.id): p.id for p in topology.api.usage_plans}
        self._apigw = apigw
        self._cache: TTLCache[str, str | None] = TTLCache(maxsize=10_000, ttl=LOOKUP_TTL_S)
        self._lock = threading.Lock()

    def __call__(self, key_value: str) -> str | None:
        with self._lock:
            if key_value in self._cache:
                return self._cache[key_value]
        plan = self._lookup(key_value)
        with self._lock:
            self._cache[key_value] = plan
        return plan

    def _lookup(self, key_value: str) -> str | None:
        pages = self._apigw.get_paginator("get_api_keys").paginate(includeValues=True)
        key_id = next(
            (
                k["id"]
                for page in pages
                for k in page["items"]
                if k.get("value") == key_value and k.get("enabled")
            ),
            None,
        )
        if key_id is None:
            return None
        for plan in self._apigw.get_usage_plans(keyId=key_id)["items"]:
            if plan.get("name") in self._plan_by_name:
                return self._plan_by_name[plan["name"]]
        return None
