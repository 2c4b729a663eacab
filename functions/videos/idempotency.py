"""`Idempotency-Key` on POST /videos: a retried create returns the response of the first one instead of
making a second video. powertools idempotency, persisted in the videos table:

IDEMPOTENCY#create_video  <hash of (caller, key)>  status (INPROGRESS/COMPLETED), the response,
                          a hash of the request body, expires_at (24 h: the table's TTL attribute)

- Keys are per caller: the hash covers the caller's id and the key, so another user's same key is
  another request.
- The same key with another body (as validated: field order and tag case do not matter) is refused.
- A create that fails (quota, bad type, ...) keeps nothing: the key can be used again.
- A key still in progress (a concurrent retry) is refused until the first finishes; if its Lambda died,
  the lock lapses with the invocation's remaining time.
- The replayed response is the first one byte for byte, upload URLs included: they were signed for the
  video's 24 h upload window, which ends when the key does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyValidationError,
)
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from functions.shared import aws
from functions.shared.errors import (
    ConflictError,
    DependencyUnavailableError,
    MalformedRequestError,
    SkyreelError,
    ValidationFailedError,
)
from functions.shared.principal import Caller
from functions.videos.uploads import UPLOAD_WINDOW_S

HEADER = "idempotency-key"
MAX_KEY_LENGTH = 255
KEY_TTL_S = UPLOAD_WINDOW_S  # as long as the upload URLs in the stored response stay valid
# Only the create is made idempotent; one partition per operation, one item per (caller, key).
CREATE = "create_video"

config = IdempotencyConfig(
    event_key_jmespath="[caller, key]",
    payload_validation_jmespath="body",
    raise_on_no_idempotency_key=True,
    expires_after_seconds=KEY_TTL_S,
)


def register(context: LambdaContext) -> None:
    """Let an in-progress key lapse when this invocation would time out (a crashed create is retryable)."""
    config.register_lambda_context(context)


def key_from(headers: dict[str, str] | None) -> str | None:
    """The Idempotency-Key header, if sent: 1-255 visible ASCII characters (else 400)."""
    value = {k.lower(): v for k, v in (headers or {}).items()}.get(HEADER)
    if value is None:
        return None
    if not 1 <= len(value) <= MAX_KEY_LENGTH or not all(33 <= ord(c) <= 126 for c in value):
        raise MalformedRequestError(
            f"The Idempotency-Key header must be 1 to {MAX_KEY_LENGTH} visible ASCII characters."
        )
    return value


class IdempotentCreates:
    """Creates made once per (caller, `Idempotency-Key`), persisted in the videos table `table_name`.
    Built once per sandbox by functions/videos/wiring.py."""

    def __init__(self, table_name: str) -> None:
        store = DynamoDBPersistenceLayer(
            table_name=table_name,
            key_attr="pk",
            sort_key_attr="sk",
            static_pk_value=f"IDEMPOTENCY#{CREATE}",
            expiry_attr="expires_at",
            boto3_client=aws.dynamodb(),
        )

        def run(*, request: dict[str, Any], create: Callable[[], dict[str, Any]]) -> dict[str, Any]:
            return create()  # `request` is what powertools hashes: (caller, key) names it, the body checks it

        self._once: Callable[..., dict[str, Any]] = idempotent_function(
            run, data_keyword_argument="request", persistence_store=store, config=config, key_prefix=CREATE
        )

    def create_once(
        self, caller: Caller, key: str, body: BaseModel, create: Callable[[], dict[str, Any]]
    ) -> dict[str, Any]:
        """`create()`'s response, or the response the first create with this caller's `key` gave."""
        request = {"caller": caller.user_id, "key": key, "body": body.model_dump(mode="json")}
        try:
            return self._once(request=request, create=create)
        except SkyreelError:
            raise  # the create's own refusal (nothing kept: the key is free again)
        except IdempotencyValidationError:
            raise ValidationFailedError(
                "This Idempotency-Key was already used with a different request body; use a new key."
            ) from None
        except IdempotencyAlreadyInProgressError:
            raise ConflictError(
                "A request with this Idempotency-Key is still being processed; retry in a moment."
            ) from None
        except Exception as exc:
            if type(exc).__module__.startswith("aws_lambda_powertools.utilities.idempotency"):
                raise DependencyUnavailableError("Could not check the Idempotency-Key; try again.") from exc
            raise
