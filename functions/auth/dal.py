"""Data access for auth: small repositories that speak DynamoDB, Secrets Manager and Step Functions and
turn their failures into domain errors. No business rules here.

The auth table (pk/sk):
    USER#<id>        USER             the account (email, display name, password hash)
    EMAIL#<email>    EMAIL            uniqueness lock for an email, pointing at the user
    USER#<id>        PROFILE          quota and plan, created by the registration saga
    USER#<id>        APIKEY#<key id>  an API key's metadata
    APIKEY#<sha256>  APIKEY           lookup of a presented key (user, key id, scopes, revoked)
    SESSION#<id>     SESSION          a refresh-token family: one login on one device
    REFRESH#<sha256> REFRESH          one refresh token (its family, used or not)
    THROTTLE#<kind>#<subject> THROTTLE failed-login counter
    REGISTRATION#<id> PENDING         a registration in progress (email, hash): the saga's input is the id
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Generic, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from functions.auth.models import ApiKeyRecord, RefreshRecord, RegistrationInput, SessionRecord, UserRecord
from functions.auth.throttle import WINDOW_S, FailureCounter
from functions.auth.usage import usage_key, usage_key_name
from functions.shared import aws
from functions.shared.dynamo import from_item, key, to_item
from functions.shared.errors import ConflictError, DependencyUnavailableError
from functions.shared.keyset import KeySet, parse_public_jwks

T = TypeVar("T")


class EmailTakenError(ConflictError):
    def __init__(self, email: str) -> None:
        super().__init__(f"An account with {email} already exists.")


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


@contextmanager
def _dependency(what: str) -> Iterator[None]:
    """Turn an AWS failure into a 503 the caller can retry, naming what did not answer."""
    try:
        yield
    except ClientError as exc:
        if _code(exc) in {"ConditionalCheckFailedException", "TransactionCanceledException"}:
            raise
        raise DependencyUnavailableError(f"{what} did not answer ({_code(exc)}).") from exc
    except BotoCoreError as exc:
        raise DependencyUnavailableError(f"{what} did not answer.") from exc


class AuthRepository:
    def __init__(self, table_name: str, client: Callable[[], Any] = aws.dynamodb) -> None:
        self.table = table_name
        self._client = client  # a function's own client by default; maintenance tools may pass theirs

    @property
    def _ddb(self) -> Any:
        return self._client()

    def _get(self, pk: str, sk: str, consistent: bool = True) -> dict[str, Any] | None:
        with _dependency("the auth table"):
            item = self._ddb.get_item(TableName=self.table, Key=key(pk, sk), ConsistentRead=consistent).get(
                "Item"
            )
        return from_item(item) if item else None

    # --- users ---------------------------------------------------------------------------------

    def create_user(self, user: UserRecord) -> None:
        """The user and its email lock in one transaction: two sign-ups with one email cannot both win."""
        user_item = {"pk": f"USER#{user.id}", "sk": "USER", **user.model_dump()}
        email_item = {"pk": f"EMAIL#{user.email}", "sk": "EMAIL", "user_id": user.id}
        try:
            with _dependency("the auth table"):
                self._ddb.transact_write_items(
                    TransactItems=[
                        {
                            "Put": {
                                "TableName": self.table,
                                "Item": to_item(email_item),
                                "ConditionExpression": "attribute_not_exists(pk) OR user_id = :id",
                                "ExpressionAttributeValues": {":id": {"S": user.id}},
                            }
                        },
                        {"Put": {"TableName": self.table, "Item": to_item(user_item)}},
                    ]
                )
        except ClientError as exc:
            if _code(exc) == "TransactionCanceledException":
                raise EmailTakenError(user.email) from exc
            raise

    def delete_user(self, user_id: str, email: str) -> None:
        """Idempotent. The email lock goes only if it still points at this user."""
        with _dependency("the auth table"):
            self._ddb.delete_item(TableName=self.table, Key=key(f"USER#{user_id}", "USER"))
            try:
                self._ddb.delete_item(
                    TableName=self.table,
                    Key=key(f"EMAIL#{email}", "EMAIL"),
                    ConditionExpression="user_id = :id",
                    ExpressionAttributeValues={":id": {"S": user_id}},
                )
            except ClientError as exc:
                if _code(exc) != "ConditionalCheckFailedException":
                    raise

    # --- pending registrations: what the saga needs, kept here so its execution data holds only ids ---

    def put_pending_registration(self, registration: RegistrationInput, expires_at: int) -> None:
        item = {
            "pk": f"REGISTRATION#{registration.user_id}",
            "sk": "PENDING",
            **registration.model_dump(),
            "expires_at": expires_at,
        }
        with _dependency("the auth table"):
            self._ddb.put_item(TableName=self.table, Item=to_item(item))

    def get_pending_registration(self, user_id: str) -> RegistrationInput | None:
        item = self._get(f"REGISTRATION#{user_id}", "PENDING")
        return RegistrationInput.model_validate(item) if item else None

    def delete_pending_registration(self, user_id: str) -> None:
        with _dependency("the auth table"):
            self._ddb.delete_item(TableName=self.table, Key=key(f"REGISTRATION#{user_id}", "PENDING"))

    def get_user(self, user_id: str) -> UserRecord | None:
        item = self._get(f"USER#{user_id}", "USER")
        return UserRecord.model_validate(item) if item else None

    def find_user_by_email(self, email: str) -> UserRecord | None:
        lock = self._get(f"EMAIL#{email}", "EMAIL")
        return self.get_user(lock["user_id"]) if lock else None

    def set_password_hash(self, user_id: str, password_hash: str) -> None:
        with _dependency("the auth table"):
            self._ddb.update_item(
                TableName=self.table,
                Key=key(f"USER#{user_id}", "USER"),
                UpdateExpression="SET password_hash = :h",
                ExpressionAttributeValues={":h": {"S": password_hash}},
            )

    def put_profile(self, user_id: str, quota_bytes: int, created_at: str) -> None:
        item = {
            "pk": f"USER#{user_id}",
            "sk": "PROFILE",
            "quota_bytes": quota_bytes,
            "plan": "free",
            "created_at": created_at,
        }
        with _dependency("the auth table"):
            self._ddb.put_item(TableName=self.table, Item=to_item(item))

    def get_plan(self, user_id: str) -> str:
        """The account's plan from its profile ("free" when it has none yet)."""
        profile = self._get(f"USER#{user_id}", "PROFILE", consistent=False)
        return str(profile.get("plan") or "free") if profile else "free"

    def delete_profile(self, user_id: str) -> None:
        with _dependency("the auth table"):
            self._ddb.delete_item(TableName=self.table, Key=key(f"USER#{user_id}", "PROFILE"))

    def account_plans(self) -> Iterator[tuple[str, str]]:
        """Every account that has a profile, with its plan: a full scan, for one-off maintenance only
        (the usage key backfill), never a request path."""
        with _dependency("the auth table"):
            pages = self._ddb.get_paginator("scan").paginate(
                TableName=self.table,
                FilterExpression="sk = :profile",
                ExpressionAttributeValues={":profile": {"S": "PROFILE"}},
            )
            for page in pages:
                for item in page["Items"]:
                    yield item["pk"]["S"].removeprefix("USER#"), item.get("plan", {}).get("S") or "free"

    def items_of_user(self, user_id: str) -> list[dict[str, Any]]:
        with _dependency("the auth table"):
            items = self._ddb.query(
                TableName=self.table,
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues={":pk": {"S": f"USER#{user_id}"}},
            )["Items"]
        return [from_item(i) for i in items]

    # --- sessions and refresh tokens -------------------------------------------------------------

    def create_session(self, session: SessionRecord, first_token: RefreshRecord) -> None:
        with _dependency("the auth table"):
            self._ddb.transact_write_items(
                TransactItems=[
                    {"Put": {"TableName": self.table, "Item": to_item(self._session_item(session))}},
                    {"Put": {"TableName": self.table, "Item": to_item(self._refresh_item(first_token))}},
                ]
            )

    @staticmethod
    def _session_item(session: SessionRecord) -> dict[str, Any]:
        return {"pk": f"SESSION#{session.id}", "sk": "SESSION", **session.model_dump()}

    @staticmethod
    def _refresh_item(token: RefreshRecord) -> dict[str, Any]:
        return {"pk": f"REFRESH#{token.fingerprint}", "sk": "REFRESH", **token.model_dump()}

    def get_session(self, session_id: str) -> SessionRecord | None:
        item = self._get(f"SESSION#{session_id}", "SESSION")
        return SessionRecord.model_validate(item) if item else None

    def revoke_session(self, session_id: str) -> None:
        with _dependency("the auth table"):
            try:
                self._ddb.update_item(
                    TableName=self.table,
                    Key=key(f"SESSION#{session_id}", "SESSION"),
                    UpdateExpression="SET revoked = :t",
                    ConditionExpression="attribute_exists(pk)",
                    ExpressionAttributeValues={":t": {"BOOL": True}},
                )
            except ClientError as exc:
                if _code(exc) != "ConditionalCheckFailedException":
                    raise

    def get_refresh_token(self, fingerprint: str) -> RefreshRecord | None:
        item = self._get(f"REFRESH#{fingerprint}", "REFRESH")
        return RefreshRecord.model_validate(item) if item else None

    def rotate_refresh_token(self, used: RefreshRecord, replacement: RefreshRecord) -> bool:
        """Mark `used` spent and store its replacement, atomically. False if it was already spent (reuse)."""
        try:
            with _dependency("the auth table"):
                self._ddb.transact_write_items(
                    TransactItems=[
                        {
                            "Update": {
                                "TableName": self.table,
                                "Key": key(f"REFRESH#{used.fingerprint}", "REFRESH"),
                                "UpdateExpression": "SET used = :t",
                                "ConditionExpression": "used = :f",
                                "ExpressionAttributeValues": {":t": {"BOOL": True}, ":f": {"BOOL": False}},
                            }
                        },
                        {"Put": {"TableName": self.table, "Item": to_item(self._refresh_item(replacement))}},
                    ]
                )
        except ClientError as exc:
            if _code(exc) == "TransactionCanceledException":
                return False
            raise
        return True

    # --- API keys ------------------------------------------------------------------------------

    def create_api_key(self, record: ApiKeyRecord) -> None:
        meta = {"pk": f"USER#{record.user_id}", "sk": f"APIKEY#{record.id}", **record.model_dump()}
        lookup = {"pk": f"APIKEY#{record.fingerprint}", "sk": "APIKEY", **record.model_dump()}
        with _dependency("the auth table"):
            self._ddb.transact_write_items(
                TransactItems=[
                    {"Put": {"TableName": self.table, "Item": to_item(meta)}},
                    {
                        "Put": {
                            "TableName": self.table,
                            "Item": to_item(lookup),
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                ]
            )

    def list_api_keys(self, user_id: str) -> list[ApiKeyRecord]:
        with _dependency("the auth table"):
            items = self._ddb.query(
                TableName=self.table,
                KeyConditionExpression="pk = :pk AND begins_with(sk, :k)",
                ExpressionAttributeValues={":pk": {"S": f"USER#{user_id}"}, ":k": {"S": "APIKEY#"}},
            )["Items"]
        records = [ApiKeyRecord.model_validate(from_item(i)) for i in items]
        return sorted((r for r in records if r.revoked_at is None), key=lambda r: r.created_at, reverse=True)

    def get_api_key(self, user_id: str, key_id: str) -> ApiKeyRecord | None:
        item = self._get(f"USER#{user_id}", f"APIKEY#{key_id}")
        return ApiKeyRecord.model_validate(item) if item else None

    def revoke_api_key(self, record: ApiKeyRecord, revoked_at: str) -> None:
        update = {
            "UpdateExpression": "SET revoked_at = :r",
            "ExpressionAttributeValues": {":r": {"S": revoked_at}},
        }
        with _dependency("the auth table"):
            self._ddb.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": self.table,
                            "Key": key(f"USER#{record.user_id}", f"APIKEY#{record.id}"),
                            **update,
                        }
                    },
                    {
                        "Update": {
                            "TableName": self.table,
                            "Key": key(f"APIKEY#{record.fingerprint}", "APIKEY"),
                            **update,
                        }
                    },
                ]
            )

    def find_api_key(self, fingerprint: str) -> ApiKeyRecord | None:
        item = self._get(f"APIKEY#{fingerprint}", "APIKEY")
        return ApiKeyRecord.model_validate(item) if item else None

    def touch_api_key(self, record: ApiKeyRecord, used_at: str, not_since: str) -> None:
        """Record the last use, at most once per interval (a write per request would cost more than the call)."""
        for pk, sk in (
            (f"USER#{record.user_id}", f"APIKEY#{record.id}"),
            (f"APIKEY#{record.fingerprint}", "APIKEY"),
        ):
            try:
                with _dependency("the auth table"):
                    self._ddb.update_item(
                        TableName=self.table,
                        Key=key(pk, sk),
                        UpdateExpression="SET last_used_at = :u",
                        ConditionExpression="attribute_exists(pk) AND (attribute_not_exists(last_used_at) OR last_used_at < :n)",
                        ExpressionAttributeValues={":u": {"S": used_at}, ":n": {"S": not_since}},
                    )
            except ClientError as exc:
                if _code(exc) != "ConditionalCheckFailedException":
                    raise

    # --- failed-login counters -----------------------------------------------------------------

    def failure_counter(self, subject: str, now: float | None = None) -> FailureCounter | None:
        item = self._get(f"THROTTLE#{subject}", "THROTTLE", consistent=True)
        if not item or item.get("expires_at", 0) < (time.time() if now is None else now):
            return None
        return FailureCounter(int(item["failures"]), int(item["last_failure_at"]))

    def take_failure_slot(self, subject: str, seen: FailureCounter | None, now: int) -> bool:
        """Count one more failure, only if the counter still holds what was read (`seen`): a conditional
        write, so parallel attempts cannot all pass one read. False if another attempt got there first.

        TTL deletes expired items late (up to days), so a counter past its window counts as absent: an old
        count must not lock out today's first typo.
        """
        counter_key = key(f"THROTTLE#{subject}", "THROTTLE")
        values = {":now": {"N": str(now)}, ":exp": {"N": str(now + WINDOW_S)}}
        try:
            with _dependency("the auth table"):
                if seen is None:
                    self._ddb.put_item(
                        TableName=self.table,
                        Item={
                            **counter_key,
                            "failures": {"N": "1"},
                            "last_failure_at": values[":now"],
                            "expires_at": values[":exp"],
                        },
                        ConditionExpression="attribute_not_exists(pk) OR expires_at < :now",
                        ExpressionAttributeValues={":now": values[":now"]},
                    )
                else:
                    self._ddb.update_item(
                        TableName=self.table,
                        Key=counter_key,
                        UpdateExpression="SET failures = :next, last_failure_at = :now, expires_at = :exp",
                        ConditionExpression="failures = :seen AND expires_at >= :now",
                        ExpressionAttributeValues={
                            **values,
                            ":seen": {"N": str(seen.failures)},
                            ":next": {"N": str(seen.failures + 1)},
                        },
                    )
        except ClientError as exc:
            if _code(exc) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def restart_lock(self, subject: str, now: int) -> None:
        """A failure's wait counts from when it was known to be one (the verify ends), not from its slot."""
        try:
            with _dependency("the auth table"):
                self._ddb.update_item(
                    TableName=self.table,
                    Key=key(f"THROTTLE#{subject}", "THROTTLE"),
                    UpdateExpression="SET last_failure_at = :now",
                    ConditionExpression="attribute_exists(pk) AND last_failure_at < :now",
                    ExpressionAttributeValues={":now": {"N": str(now)}},
                )
        except ClientError as exc:
            if _code(exc) != "ConditionalCheckFailedException":
                raise

    def release_failure_slot(self, subject: str) -> None:
        """Give back a slot taken for an attempt that was not a failure: the last one deletes the counter,
        any other is an atomic decrement."""
        counter_key = key(f"THROTTLE#{subject}", "THROTTLE")
        one = {":one": {"N": "1"}}
        try:
            with _dependency("the auth table"):
                self._ddb.delete_item(
                    TableName=self.table,
                    Key=counter_key,
                    ConditionExpression="failures = :one",
                    ExpressionAttributeValues=one,
                )
            return
        except ClientError as exc:
            if _code(exc) != "ConditionalCheckFailedException":
                raise
        try:
            with _dependency("the auth table"):
                self._ddb.update_item(
                    TableName=self.table,
                    Key=counter_key,
                    UpdateExpression="ADD failures :minus_one",
                    ConditionExpression="failures > :one",
                    ExpressionAttributeValues={**one, ":minus_one": {"N": "-1"}},
                )
        except ClientError as exc:
            if _code(exc) != "ConditionalCheckFailedException":
                raise

    def clear_failures(self, subject: str) -> None:
        with _dependency("the auth table"):
            self._ddb.delete_item(TableName=self.table, Key=key(f"THROTTLE#{subject}", "THROTTLE"))


class AnalyticsProfiles:
    """The analytics domain's per-user record, created by the registration saga."""

    def __init__(self, table_name: str) -> None:
        self.table = table_name

    def create(self, user_id: str, created_at: str) -> None:
        item = {"pk": f"USER#{user_id}", "sk": "PROFILE", "created_at": created_at, "videos": 0, "views": 0}
        with _dependency("the analytics table"):
            aws.dynamodb().put_item(TableName=self.table, Item=to_item(item))

    def delete(self, user_id: str) -> None:
        with _dependency("the analytics table"):
            aws.dynamodb().delete_item(TableName=self.table, Key=key(f"USER#{user_id}", "PROFILE"))

    def exists(self, user_id: str) -> bool:
        with _dependency("the analytics table"):
            return "Item" in aws.dynamodb().get_item(
                TableName=self.table, Key=key(f"USER#{user_id}", "PROFILE")
            )


class _CachedSecret(Generic[T]):
    """A secret parsed once and cached per sandbox, re-read after `ttl_s`."""

    REFRESH_MIN_INTERVAL_S = 1

    def __init__(
        self, secret_id: str, ttl_s: float = 300, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.secret_id = secret_id
        self.ttl_s = ttl_s
        self.clock = clock
        self._cached: tuple[float, T] | None = None
        self._lock = threading.Lock()

    def _parse(self, text: str) -> T:
        raise NotImplementedError

    def _current(self) -> T:
        return self._no_older_than(self.ttl_s)

    def _refreshed(self) -> T:
        """Re-read now, unless the secret was read in the last few seconds: tokens with made-up key ids
        must not turn into a Secrets Manager call each."""
        return self._no_older_than(self.REFRESH_MIN_INTERVAL_S)

    def _no_older_than(self, max_age_s: float) -> T:
        with self._lock:
            if self._cached is None or self.clock() - self._cached[0] >= max_age_s:
                self._read()
            assert self._cached is not None
            return self._cached[1]

    def _read(self) -> None:
        with _dependency("Secrets Manager"):
            text = aws.secrets().get_secret_value(SecretId=self.secret_id)["SecretString"]
        self._cached = (self.clock(), self._parse(text))


class KeyStore(_CachedSecret[KeySet]):
    """The signing key set (private keys) from Secrets Manager: for the function that issues tokens."""

    def _parse(self, text: str) -> KeySet:
        return KeySet.from_json(text)

    def keyset(self) -> KeySet:
        return self._current()

    def refreshed(self) -> KeySet:
        return self._refreshed()

    def jwks(self) -> dict[str, Any]:
        return self.keyset().jwks()

    def refreshed_jwks(self) -> dict[str, Any]:
        return self.refreshed().jwks()


class PublicKeyStore(_CachedSecret[dict[str, Any]]):
    """The published JWKS (public keys only) from its own secret: all a verifier needs, and all the
    authorizer may read. Written next to the key set wherever keys are made or rotated."""

    def _parse(self, text: str) -> dict[str, Any]:
        return parse_public_jwks(text)

    def jwks(self) -> dict[str, Any]:
        return self._current()

    def refreshed_jwks(self) -> dict[str, Any]:
        return self._refreshed()


class UsageKeySalt(_CachedSecret[str]):
    """The secret each account's usage-plan key is derived with (functions/auth/usage.py)."""

    def _parse(self, text: str) -> str:
        return text

    def value(self) -> str:
        return self._current()


class UsageKeys:
    """Per-account API Gateway API keys and their usage plan membership. Every call is idempotent:
    the registration saga retries its steps."""

    def __init__(
        self, plans: Mapping[str, str], salt: Callable[[], str], client: Callable[[], Any] = aws.apigateway
    ) -> None:
        self.plans = dict(plans)  # plan id -> usage plan name, the default first
        self.salt = salt
        self.client = client

    @property
    def _apigw(self) -> Any:
        return self.client()

    def _key_id(self, user_id: str) -> str | None:
        with _dependency("API Gateway"):
            items = self._apigw.get_api_keys(nameQuery=usage_key_name(user_id), includeValues=False)["items"]
        return next((k["id"] for k in items if k.get("name") == usage_key_name(user_id)), None)

    def _plan_id(self, plan: str) -> str:
        name = self.plans[plan]
        with _dependency("API Gateway"):
            pages = self._apigw.get_paginator("get_usage_plans").paginate()
            found = [p["id"] for page in pages for p in page["items"] if p.get("name") == name]
        if not found:
            raise DependencyUnavailableError(f"The usage plan {name} does not exist.")
        return str(found[0])

    def ensure(self, user_id: str, plan: str | None = None) -> None:
        """The account's key exists and is on `plan` (default: the first plan)."""
        plan = plan or next(iter(self.plans))
        key_id = self._key_id(user_id)
        if key_id is None:
            with _dependency("API Gateway"):
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
        if _code(exc) != code:
            raise DependencyUnavailableError(f"API Gateway did not answer ({_code(exc)}).") from exc
    except BotoCoreError as exc:
        raise DependencyUnavailableError("API Gateway did not answer.") from exc


class RegistrationFailedError(DependencyUnavailableError):
    pass


class RegistrationPendingError(RegistrationFailedError):
    """The saga is still running after the wait: it may yet finish, so its pending record stays."""


class RegistrationWorkflow:
    """Starts the registration saga and waits for its outcome (bounded): the API answers with the result."""

    def __init__(self, state_machine_arn: str, wait_s: float = 20) -> None:
        self.arn = state_machine_arn
        self.wait_s = wait_s

    def run(self, request: RegistrationInput) -> None:
        """Only the id enters Step Functions (its execution data and logs keep inputs): each step reads
        the pending registration (email, hash) through the repository."""
        sfn = aws.stepfunctions()
        with _dependency("Step Functions"):
            execution = sfn.start_execution(
                stateMachineArn=self.arn, name=request.user_id, input=json.dumps({"user_id": request.user_id})
            )["executionArn"]
        result = _poll(
            lambda: sfn.describe_execution(executionArn=execution),
            lambda d: d["status"] != "RUNNING",
            self.wait_s,
        )
        if result is None:
            raise RegistrationPendingError("Registration is taking too long; try signing in shortly.")
        if result["status"] == "SUCCEEDED":
            return
        error = result.get("error", "")
        if error == "EmailTaken":
            raise EmailTakenError(request.email)
        raise RegistrationFailedError(
            f"Registration could not complete ({error or result['status']}); "
            "nothing was kept, please try again."
        )


def _poll(fetch: Callable[[], T], done: Callable[[T], bool], timeout_s: float) -> T | None:
    deadline = time.monotonic() + timeout_s
    delay = 0.05
    while True:
        with _dependency("Step Functions"):
            value = fetch()
        if done(value):
            return value
        if time.monotonic() + delay > deadline:
            return None
        time.sleep(delay)
        delay = min(delay * 1.5, 0.5)
