"""API Gateway adapter for per-account usage-plan keys (port `UsageKeys`): create the account's API key,
attach it to a usage plan, delete it. Every call is idempotent: the registration saga retries its steps.
Which plan an account gets is the logic's choice (functions/auth/logic.py)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from functions.auth.usage import usage_key, usage_key_name
from functions.shared import aws
from functions.shared.dependency import dependency, error_code
from functions.shared.errors import DependencyUnavailableError


class UsageKeys:
    def __init__(
        self, plans: Mapping[str, str], salt: Callable[[], str], client: Callable[[], Any] = aws.apigateway
    ) -> None:
        self._plans = dict(plans)  # plan id -> usage plan name, as the topology lists them (default first)
        self.salt = salt
        self.client = client

    @property
    def _apigw(self) -> Any:
        return self.client()

    def plan_ids(self) -> list[str]:
        """The plans on offer, in the topology's order."""
        return list(self._plans)

    def _key_id(self, user_id: str) -> str | None:
        with dependency("API Gateway"):
            items = self._apigw.get_api_keys(nameQuery=usage_key_name(user_id), includeValues=False)["items"]
        return next((k["id"] for k in items if k.get("name") == usage_key_name(user_id)), None)

    def _plan_id(self, plan: str) -> str:
        name = self._plans[plan]
        with dependency("API Gateway"):
            pages = self._apigw.get_paginator("get_usage_plans").paginate()
            found = [p["id"] for page in pages for p in page["items"] if p.get("name") == name]
        if not found:
            raise DependencyUnavailableError(f"The usage plan {name} does not exist.")
        return str(found[0])

    def ensure(self, user_id: str, plan: str) -> None:
        """The account's key exists and is on `plan` (one of `plan_ids()`)."""
        key_id = self._key_id(user_id)
        if key_id is None:
            with dependency("API Gateway"):
                key_id = self._apigw.create_api_key(
                    name=usage_key_name(user_id),
                    value=usage_key(self.salt(), user_id),
                    enabled=True,
                    description="Meters this account's requests (usage plans); not a credential",
                )["id"]
        plan_id = self._plan_id(plan)
        _tolerating(
            "ConflictException",
            lambda: self._apigw.create_usage_plan_key(usagePlanId=plan_id, keyId=key_id, keyType="API_KEY"),
        )  # Conflict: already on the plan (a retried step)

    def remove(self, user_id: str) -> None:
        """Delete the account's key (and with it its plan membership); nothing to do if there is none."""
        key_id = self._key_id(user_id)
        if key_id is not None:
            _tolerating("NotFoundException", lambda: self._apigw.delete_api_key(apiKey=key_id))


def _tolerating(code: str, call: Callable[[], Any]) -> None:
    """Run an API Gateway call for which the error `code` means "already done"."""
    try:
        call()
    except ClientError as exc:
        if error_code(exc) != code:
            raise DependencyUnavailableError(f"API Gateway did not answer ({error_code(exc)}).") from exc
    except BotoCoreError as exc:
        raise DependencyUnavailableError("API Gateway did not answer.") from exc
