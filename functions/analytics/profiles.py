"""Data access for the analytics domain's per-user profile: its key layout lives here, nowhere else.

The analytics table (pk/sk):
    USER#<id>   PROFILE   the account's counters (videos, views), created when the account is registered

Other domains reach it through a port of their own (functions/auth/ports.py `AnalyticsProfiles`), wired
to this adapter: the registration saga creates the profile and deletes it when it compensates.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from functions.shared import aws
from functions.shared.dependency import dependency
from functions.shared.dynamo import key, to_item


def _profile_key(user_id: str) -> dict[str, Any]:
    return key(f"USER#{user_id}", "PROFILE")


class ProfileTable:
    """The per-user profiles in the analytics table. Every write is idempotent (saga steps are retried)."""

    def __init__(self, table_name: str, client: Callable[[], Any] = aws.dynamodb) -> None:
        self.table = table_name
        self._client = client

    def create(self, user_id: str, created_at: str) -> None:
        item = {**_profile_key(user_id), **to_item({"created_at": created_at, "videos": 0, "views": 0})}
        with dependency("the analytics table"):
            self._client().put_item(TableName=self.table, Item=item)

    def delete(self, user_id: str) -> None:
        with dependency("the analytics table"):
            self._client().delete_item(TableName=self.table, Key=_profile_key(user_id))

    def exists(self, user_id: str) -> bool:
        with dependency("the analytics table"):
            found = self._client().get_item(
                TableName=self.table, Key=_profile_key(user_id), ConsistentRead=True
            )
        return "Item" in found
