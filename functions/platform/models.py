"""The platform function's response models (the OpenAPI document's schemas for /health)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class CheckOut(BaseModel):
    status: Literal["ok", "failing"]
    latency_ms: float


class HealthOut(BaseModel):
    """`checks` by dependency (`table:videos`, `bucket:media`, ...); the reason a check fails is only logged."""

    status: Literal["ok", "degraded"]
    checks: dict[str, CheckOut] = Field(examples=[{"table:videos": {"status": "ok", "latency_ms": 4.2}}])
