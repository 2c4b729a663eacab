"""How every domain's table is shaped: single-table style, generic keys plus overloaded indexes, so a
domain can add access patterns without a table migration."""

from __future__ import annotations

from infra.model import Index, Table

GSI1 = Index("gsi1", "gsi1pk", "gsi1sk")


def domain_table(domain: str, indexes: tuple[Index, ...] = (GSI1,), stream: bool = False) -> Table:
    return Table(id=domain, indexes=indexes, stream=stream, ttl_attribute="expires_at")
