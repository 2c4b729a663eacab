"""The search domain (functions/search; its own issue, not built yet): its table exists so the
platform's health check and the delete saga's per-domain slot have it to refer to."""

from __future__ import annotations

from infra.model import Domain
from infra.topology.tables import domain_table

DOMAIN = Domain(name="search", tables=(domain_table("search"),))
