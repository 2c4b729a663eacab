"""The analytics domain (functions/analytics): each account's analytics profile, made by the
registration saga; usage and viewer analytics are their own issue."""

from __future__ import annotations

from infra.model import Domain
from infra.topology.tables import domain_table

DOMAIN = Domain(name="analytics", tables=(domain_table("analytics"),))
