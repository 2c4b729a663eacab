"""The platform's one clock format: UTC ISO 8601 with milliseconds and a `Z`, sortable as text.

Stored timestamps (`created_at`, `updated_at`, ...) are compared and sorted as strings in DynamoDB keys,
so every domain writes them with the same precision.
"""

from __future__ import annotations

from datetime import UTC, datetime


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def iso_at(epoch_s: float) -> str:
    """An epoch time in the same format (for times computed from an injected clock)."""
    return datetime.fromtimestamp(epoch_s, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
