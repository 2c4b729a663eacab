"""Account plans and what each allows: vocabulary every domain shares (the authorizer names the caller's
plan; videos enforce its storage quota)."""

from __future__ import annotations

from collections.abc import Mapping

GIB = 1024**3
DEFAULT_PLAN = "free"  # a caller whose token names no plan (or one we do not know) is on this one

# Bytes of originals an account may hold, counting uploads it has declared and not yet sent
# (docs/videos.md, "Storage quota"). A deployment can override any of these (STORAGE_QUOTAS).
STORAGE_QUOTAS: Mapping[str, int] = {
    "free": 20 * GIB,
    "pro": 1024 * GIB,
}


def storage_quota(plan: str, quotas: Mapping[str, int] = STORAGE_QUOTAS) -> int:
    return quotas.get(plan, quotas.get(DEFAULT_PLAN, STORAGE_QUOTAS[DEFAULT_PLAN]))
