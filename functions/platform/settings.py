"""The platform function's typed environment. Its DESCRIBE grants are not fields: the health check finds
every table, bucket and queue it was granted from the environment itself (functions/shared/config.py),
so a resource a domain declares is checked with no code change."""

from __future__ import annotations

from pydantic import Field

from functions.shared.config import EnvironmentModel


class PlatformSettings(EnvironmentModel):
    # Every API handler module, whose resolvers the OpenAPI document merges (the topology's document_function).
    api_handler_modules: str = Field(alias="API_HANDLER_MODULES")
    health_cache_ttl_s: float = Field(default=2.0, ge=0, alias="HEALTH_CACHE_TTL_S")
