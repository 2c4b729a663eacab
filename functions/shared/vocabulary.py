"""What every domain and the topology agree on: the API's path prefix and the scopes a caller can hold.

Plain constants with no imports, so the topology (infra/topology), the authorizer and every handler
share one definition without pulling anything else in.
"""

from __future__ import annotations

from enum import StrEnum

API_PREFIX = "/api/v1"


class Scope(StrEnum):
    ACCOUNT = "account"  # the account itself (profile, API keys): signed-in users only, never API keys
    VIDEOS_READ = "videos:read"
    VIDEOS_WRITE = "videos:write"
    SEARCH = "search"
    ANALYTICS_READ = "analytics:read"


# A signed-in user holds every scope; an API key holds the ones it was created with, never `account`.
USER_SCOPES: tuple[str, ...] = tuple(scope.value for scope in Scope)
API_KEY_SCOPES: frozenset[str] = frozenset(USER_SCOPES) - {Scope.ACCOUNT.value}
