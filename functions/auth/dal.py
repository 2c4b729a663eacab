"""Data access for the auth table: what is stored under which key, and DynamoDB's failures as 503s.
No business rules here (plans, expiry, revocation, ordering: functions/auth/logic.py decides them).

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

One class per port (functions/auth/ports.py), all on the one table.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from botocore.exceptions import ClientError

from functions.auth.models import (
    ApiKeyRecord,
    ProfileRecord,
    RefreshRecord,
    RegistrationInput,
    SessionRecord,
    UserRecord,
)
from functions.auth.throttle import FailureCounter
from functions.shared import aws
from functions.shared.dependency import dependency, error_code
from functions.shared.dynamo import from_item, key, to_item

TABLE = "the auth table"


def _user_key(user_id: str) -> dict[str, Any]:
    return key(f"USER#{user_id}", "USER")


def _email_key(email: str) -> dict[str, Any]:
    return key(f"EMAIL#{email}", "EMAIL")


def _profile_key(user_id: str) -> dict[str, Any]:
    return key(f"USER#{user_id}", "PROFILE")


def _pending_key(user_id: str) -> dict[str, Any]:
    return key(f"REGISTRATION#{user_id}", "PENDING")


def _session_key(session_id: str) -> dict[str, Any]:
    return key(f"SESSION#{session_id}", "SESSION")


def _refresh_key(fingerprint: str) -> dict[str, Any]:
    return key(f"REFRESH#{fingerprint}", "REFRESH")


def _key_meta_key(user_id: str, key_id: str) -> dict[str, Any]:
    return key(f"USER#{user_id}", f"APIKEY#{key_id}")


def _key_lookup_key(fingerprint: str) -> dict[str, Any]:
    return key(f"APIKEY#{fingerprint}", "APIKEY")


def _counter_key(subject: str) -> dict[str, Any]:
    return key(f"THROTTLE#{subject}", "THROTTLE")


def _tolerating_condition(call: Callable[[], Any]) -> bool:
    """Run a conditional write; False if its condition failed (the caller decides what that means)."""
    try:
        with dependency(TABLE):
            call()
    except ClientError as exc:
        if error_code(exc) in {"ConditionalCheckFailedException", "TransactionCanceledException"}:
            return False
        raise
    return True


class _AuthTable:
    def __init__(self, table_name: str, client: Callable[[], Any] = aws.dynamodb) -> None:
        self.table = table_name
        self._client = client  # a function's own client by default; maintenance tools may pass theirs

    @property
    def _ddb(self) -> Any:
        return self._client()

    def _get(self, item_key: dict[str, Any], consistent: bool = True) -> dict[str, Any] | None:
        with dependency(TABLE):
            item = self._ddb.get_item(TableName=self.table, Key=item_key, ConsistentRead=consistent).get(
                "Item"
            )
        return from_item(item) if item else None

    def _put(self, item_key: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
        """A Put request for a transaction: the key's attributes and the values."""
        return {"TableName": self.table, "Item": {**item_key, **to_item(values)}}


class UserTable(_AuthTable):
    """Accounts: users with their email locks, profiles, and pending registrations."""

    def create_user(self, user: UserRecord) -> bool:
        """The user and its email lock in one transaction: two sign-ups with one email cannot both win.
        False: the email's lock points at another user. Idempotent for the same user."""
        return _tolerating_condition(
            lambda: self._ddb.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            **self._put(_email_key(user.email), {"user_id": user.id}),
                            "ConditionExpression": "attribute_not_exists(pk) OR user_id = :id",
                            "ExpressionAttributeValues": {":id": {"S": user.id}},
                        }
                    },
                    {"Put": self._put(_user_key(user.id), user.model_dump())},
                ]
            )
        )

    def delete_user(self, user_id: str, email: str) -> None:
        """Idempotent. The email lock goes only if it still points at this user."""
        with dependency(TABLE):
            self._ddb.delete_item(TableName=self.table, Key=_user_key(user_id))
        _tolerating_condition(
            lambda: self._ddb.delete_item(
                TableName=self.table,
                Key=_email_key(email),
                ConditionExpression="user_id = :id",
                ExpressionAttributeValues={":id": {"S": user_id}},
            )
        )

    def get_user(self, user_id: str) -> UserRecord | None:
        item = self._get(_user_key(user_id))
        return UserRecord.model_validate(item) if item else None

    def find_user_by_email(self, email: str) -> UserRecord | None:
        lock = self._get(_email_key(email))
        return self.get_user(lock["user_id"]) if lock else None

    def set_password_hash(self, user_id: str, password_hash: str) -> None:
        with dependency(TABLE):
            self._ddb.update_item(
                TableName=self.table,
                Key=_user_key(user_id),
                UpdateExpression="SET password_hash = :h",
                ExpressionAttributeValues={":h": {"S": password_hash}},
            )

    # --- profiles ------------------------------------------------------------------------------

    def put_profile(self, profile: ProfileRecord) -> None:
        values = profile.model_dump(exclude={"user_id"})
        with dependency(TABLE):
            self._ddb.put_item(**self._put(_profile_key(profile.user_id), values))

    def get_profile(self, user_id: str) -> ProfileRecord | None:
        """Eventually consistent: read on every sign-in and uncached API-key call, where a plan change
        arriving a moment late is fine."""
        item = self._get(_profile_key(user_id), consistent=False)
        return ProfileRecord.model_validate({**item, "user_id": user_id}) if item else None

    def delete_profile(self, user_id: str) -> None:
        with dependency(TABLE):
            self._ddb.delete_item(TableName=self.table, Key=_profile_key(user_id))

    def profiles(self) -> Iterator[ProfileRecord]:
        """Every account's profile: a full scan, for one-off maintenance only (the usage key backfill),
        never a request path."""
        with dependency(TABLE):
            pages = self._ddb.get_paginator("scan").paginate(
                TableName=self.table,
                FilterExpression="sk = :profile",
                ExpressionAttributeValues={":profile": {"S": "PROFILE"}},
            )
            for page in pages:
                for item in page["Items"]:
                    values = from_item(item)
                    yield ProfileRecord.model_validate(
                        {**values, "user_id": values["pk"].removeprefix("USER#")}
                    )

    # --- pending registrations: what the saga needs, kept here so its execution data holds only ids ---

    def put_pending_registration(self, registration: RegistrationInput, expires_at: int) -> None:
        values = {**registration.model_dump(), "expires_at": expires_at}
        with dependency(TABLE):
            self._ddb.put_item(**self._put(_pending_key(registration.user_id), values))

    def get_pending_registration(self, user_id: str) -> RegistrationInput | None:
        item = self._get(_pending_key(user_id))
        return RegistrationInput.model_validate(item) if item else None

    def delete_pending_registration(self, user_id: str) -> None:
        with dependency(TABLE):
            self._ddb.delete_item(TableName=self.table, Key=_pending_key(user_id))


class SessionTable(_AuthTable):
    """Sessions (refresh-token families) and their refresh tokens."""

    def create_session(self, session: SessionRecord, first_token: RefreshRecord) -> None:
        with dependency(TABLE):
            self._ddb.transact_write_items(
                TransactItems=[
                    {"Put": self._put(_session_key(session.id), session.model_dump())},
                    {"Put": self._put(_refresh_key(first_token.fingerprint), first_token.model_dump())},
                ]
            )

    def get_session(self, session_id: str) -> SessionRecord | None:
        item = self._get(_session_key(session_id))
        return SessionRecord.model_validate(item) if item else None

    def revoke_session(self, session_id: str) -> None:
        """Idempotent; an unknown session stays unknown (no item is made for it)."""
        _tolerating_condition(
            lambda: self._ddb.update_item(
                TableName=self.table,
                Key=_session_key(session_id),
                UpdateExpression="SET revoked = :t",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues={":t": {"BOOL": True}},
            )
        )

    def get_refresh_token(self, fingerprint: str) -> RefreshRecord | None:
        item = self._get(_refresh_key(fingerprint))
        return RefreshRecord.model_validate(item) if item else None

    def rotate_refresh_token(self, used: RefreshRecord, replacement: RefreshRecord) -> bool:
        """Mark `used` spent and store its replacement, atomically. False if it was already spent."""
        return _tolerating_condition(
            lambda: self._ddb.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": self.table,
                            "Key": _refresh_key(used.fingerprint),
                            "UpdateExpression": "SET used = :t",
                            "ConditionExpression": "used = :f",
                            "ExpressionAttributeValues": {":t": {"BOOL": True}, ":f": {"BOOL": False}},
                        }
                    },
                    {"Put": self._put(_refresh_key(replacement.fingerprint), replacement.model_dump())},
                ]
            )
        )


class ApiKeyTable(_AuthTable):
    """API keys: metadata under the user (to list them), and a lookup by the key's hash (to check one)."""

    def create_api_key(self, record: ApiKeyRecord) -> None:
        values = record.model_dump()
        with dependency(TABLE):
            self._ddb.transact_write_items(
                TransactItems=[
                    {"Put": self._put(_key_meta_key(record.user_id, record.id), values)},
                    {
                        "Put": {
                            **self._put(_key_lookup_key(record.fingerprint), values),
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                ]
            )

    def api_keys_of(self, user_id: str) -> list[ApiKeyRecord]:
        """Every key the user ever made, revoked ones included, in no particular order."""
        with dependency(TABLE):
            pages = self._ddb.get_paginator("query").paginate(
                TableName=self.table,
                KeyConditionExpression="pk = :pk AND begins_with(sk, :k)",
                ExpressionAttributeValues={":pk": {"S": f"USER#{user_id}"}, ":k": {"S": "APIKEY#"}},
            )
            return [ApiKeyRecord.model_validate(from_item(i)) for page in pages for i in page["Items"]]

    def get_api_key(self, user_id: str, key_id: str) -> ApiKeyRecord | None:
        item = self._get(_key_meta_key(user_id, key_id))
        return ApiKeyRecord.model_validate(item) if item else None

    def find_api_key(self, fingerprint: str) -> ApiKeyRecord | None:
        item = self._get(_key_lookup_key(fingerprint))
        return ApiKeyRecord.model_validate(item) if item else None

    def revoke_api_key(self, record: ApiKeyRecord, revoked_at: str) -> None:
        update = {
            "UpdateExpression": "SET revoked_at = :r",
            "ExpressionAttributeValues": {":r": {"S": revoked_at}},
        }
        with dependency(TABLE):
            self._ddb.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": self.table,
                            "Key": _key_meta_key(record.user_id, record.id),
                            **update,
                        }
                    },
                    {
                        "Update": {
                            "TableName": self.table,
                            "Key": _key_lookup_key(record.fingerprint),
                            **update,
                        }
                    },
                ]
            )

    def touch_api_key(self, record: ApiKeyRecord, used_at: str, not_since: str) -> None:
        """Set `last_used_at` on both items, unless it is already `not_since` or later (a parallel call
        recorded it): the interval itself is the logic's choice."""
        for item_key in (_key_meta_key(record.user_id, record.id), _key_lookup_key(record.fingerprint)):
            _tolerating_condition(
                lambda item_key=item_key: self._ddb.update_item(  # type: ignore[misc]
                    TableName=self.table,
                    Key=item_key,
                    UpdateExpression="SET last_used_at = :u",
                    ConditionExpression="attribute_exists(pk) AND "
                    "(attribute_not_exists(last_used_at) OR last_used_at < :n)",
                    ExpressionAttributeValues={":u": {"S": used_at}, ":n": {"S": not_since}},
                )
            )


class FailureCounterTable(_AuthTable):
    """Failed-login counters. Each change is a conditional write on what was read, so parallel attempts
    cannot all pass one read; the counting rules are the logic's (functions/auth/logic.py)."""

    def failure_counter(self, subject: str) -> FailureCounter | None:
        """The counter as stored, expired or not (TTL removes items late)."""
        item = self._get(_counter_key(subject))
        if not item:
            return None
        return FailureCounter(int(item["failures"]), int(item["last_failure_at"]), int(item["expires_at"]))

    def take_failure_slot(self, subject: str, seen: FailureCounter | None, now: int, expires_at: int) -> bool:
        """Count one more failure, only if the counter still holds what was read (`seen`; None: no live
        counter, so a new one replaces any expired at `now`). False if another attempt got there first."""
        values = {":now": {"N": str(now)}, ":exp": {"N": str(expires_at)}}
        if seen is None:
            return _tolerating_condition(
                lambda: self._ddb.put_item(
                    TableName=self.table,
                    Item={
                        **_counter_key(subject),
                        "failures": {"N": "1"},
                        "last_failure_at": values[":now"],
                        "expires_at": values[":exp"],
                    },
                    ConditionExpression="attribute_not_exists(pk) OR expires_at < :now",
                    ExpressionAttributeValues={":now": values[":now"]},
                )
            )
        return _tolerating_condition(
            lambda: self._ddb.update_item(
                TableName=self.table,
                Key=_counter_key(subject),
                UpdateExpression="SET failures = :next, last_failure_at = :now, expires_at = :exp",
                ConditionExpression="failures = :seen AND expires_at >= :now",
                ExpressionAttributeValues={
                    **values,
                    ":seen": {"N": str(seen.failures)},
                    ":next": {"N": str(seen.failures + 1)},
                },
            )
        )

    def restart_lock(self, subject: str, now: int) -> None:
        """Move the last failure to `now`, if the counter exists and its last failure is earlier."""
        _tolerating_condition(
            lambda: self._ddb.update_item(
                TableName=self.table,
                Key=_counter_key(subject),
                UpdateExpression="SET last_failure_at = :now",
                ConditionExpression="attribute_exists(pk) AND last_failure_at < :now",
                ExpressionAttributeValues={":now": {"N": str(now)}},
            )
        )

    def release_failure_slot(self, subject: str) -> None:
        """Give back one slot: the last one deletes the counter, any other is an atomic decrement."""
        one = {":one": {"N": "1"}}
        deleted = _tolerating_condition(
            lambda: self._ddb.delete_item(
                TableName=self.table,
                Key=_counter_key(subject),
                ConditionExpression="failures = :one",
                ExpressionAttributeValues=one,
            )
        )
        if not deleted:
            _tolerating_condition(
                lambda: self._ddb.update_item(
                    TableName=self.table,
                    Key=_counter_key(subject),
                    UpdateExpression="ADD failures :minus_one",
                    ConditionExpression="failures > :one",
                    ExpressionAttributeValues={**one, ":minus_one": {"N": "-1"}},
                )
            )

    def clear_failures(self, subject: str) -> None:
        with dependency(TABLE):
            self._ddb.delete_item(TableName=self.table, Key=_counter_key(subject))
