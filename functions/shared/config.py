"""Typed settings read from the environment the topology gives each function.

Settings are read on first use, not at import: a handler module must import without its environment
(the OpenAPI merge and the topology tests import every handler).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Self

from pydantic import BaseModel, ConfigDict


class EnvironmentModel(BaseModel):
    """Base of typed settings: fields are read from environment variables named by their alias.

    Plain pydantic rather than pydantic-settings: it validates the same way and keeps ~100 ms of
    imports out of every cold start.
    """

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Self:
        """The whole model from the environment, validated at once: a missing variable (a grant the
        topology did not give) fails here, naming it. Each domain's wiring calls this once per sandbox."""
        return cls.model_validate(dict(os.environ if environ is None else environ))


class ResourceKind(StrEnum):
    TABLE = "table"
    BUCKET = "bucket"
    QUEUE = "queue"


_SUFFIXES = {
    "_TABLE_NAME": ResourceKind.TABLE,
    "_BUCKET_NAME": ResourceKind.BUCKET,
    "_QUEUE_URL": ResourceKind.QUEUE,
}


@dataclass(frozen=True)
class ResourceRef:
    """A resource this function was granted, as its environment names it (e.g. `videos` table)."""

    kind: ResourceKind
    name: str  # logical id, from the env var's prefix
    address: str  # table/bucket name or queue URL


def granted_resources(environ: Mapping[str, str] | None = None) -> list[ResourceRef]:
    """Every table, bucket and queue the topology granted this function, read from its environment."""
    environ = os.environ if environ is None else environ
    refs = []
    for key, value in sorted(environ.items()):
        for suffix, kind in _SUFFIXES.items():
            if key.endswith(suffix) and value:
                refs.append(ResourceRef(kind, key.removesuffix(suffix).lower(), value))
    return refs
