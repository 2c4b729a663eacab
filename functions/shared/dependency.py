"""Data access turns an AWS failure into a 503 the caller can retry, naming what did not answer."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from botocore.exceptions import BotoCoreError, ClientError

from functions.shared.errors import DependencyUnavailableError

# Outcomes of a conditional write, not failures: the adapter that made the condition reads them.
CONDITION_FAILURES = frozenset({"ConditionalCheckFailedException", "TransactionCanceledException"})


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


@contextmanager
def dependency(what: str) -> Iterator[None]:
    """Re-raise a failed condition as it is; anything else from AWS is DependencyUnavailableError."""
    try:
        yield
    except ClientError as exc:
        if error_code(exc) in CONDITION_FAILURES:
            raise
        raise DependencyUnavailableError(f"{what} did not answer ({error_code(exc)}).") from exc
    except BotoCoreError as exc:
        raise DependencyUnavailableError(f"{what} did not answer.") from exc
