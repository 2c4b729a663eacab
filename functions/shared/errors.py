"""Domain errors. Logic raises these; `functions.shared.api` is the one place that maps them to HTTP.

They say what went wrong in words a user can act on; they carry no HTTP knowledge.
"""

from __future__ import annotations

from typing import Any


class SkyreelError(Exception):
    """Base of every expected failure. `code` is stable and machine-readable."""

    code = "internal_error"

    def __init__(self, message: str, *, details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []


class MalformedRequestError(SkyreelError):
    code = "malformed_request"


class ValidationFailedError(SkyreelError):
    code = "validation_failed"


class UnauthenticatedError(SkyreelError):
    code = "unauthenticated"


class ForbiddenError(SkyreelError):
    code = "forbidden"


class QuotaExceededError(ForbiddenError):
    """The account's plan does not allow this (a 403: retrying will not help until something is freed)."""

    code = "quota_exceeded"


class NotFoundError(SkyreelError):
    """Also used for "exists but is not yours": never confirm that someone else's resource exists."""

    code = "not_found"


class ConflictError(SkyreelError):
    code = "conflict"


class PayloadTooLargeError(SkyreelError):
    code = "payload_too_large"


class UnsupportedMediaTypeError(SkyreelError):
    code = "unsupported_media_type"


class ThrottledError(SkyreelError):
    code = "throttled"

    def __init__(self, message: str, *, retry_after_s: int, details: list[dict[str, Any]] | None = None):
        super().__init__(message, details=details)
        self.retry_after_s = retry_after_s


class DependencyUnavailableError(SkyreelError):
    """A store or service we depend on did not answer; the request may succeed if retried."""

    code = "dependency_unavailable"
