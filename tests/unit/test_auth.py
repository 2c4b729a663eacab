"""The auth domain's pure parts, the authorizer's policy and cache, key sets and their rotation."""

from __future__ import annotations

import json
import time
from typing import Any

import boto3
import jwt
import pytest
from moto import mock_aws

from functions.auth import apikeys, authorizer, passwords, rotate_keys, throttle, tokens
from functions.auth.logic import Principal
from functions.shared.errors import UnauthenticatedError, ValidationFailedError
from functions.shared.keyset import KeySet, new_keyset

KEYS = new_keyset()
ISS, AUD = "skyreel", "skyreel-api"


# --- passwords ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "rule"),
    [
        ("short", "at least 10"),
        ("qwertyuiop", "common"),
        ("ada.lovelace-rocks", "email"),
        ("x" * 300, "at most"),
    ],
)
def test_policy_names_the_broken_rule(password: str, rule: str) -> None:
    with pytest.raises(ValidationFailedError) as failure:
        passwords.check_policy(password, "ada.lovelace@example.com")
    assert any(rule in d["message"] for d in failure.value.details)


def test_hash_verify_and_the_dummy_path(monkeypatch: pytest.MonkeyPatch) -> None:
    stored = passwords.hash_password("correct horse battery")
    assert stored.startswith("$argon2id$")
    assert passwords.verify_password(stored, "correct horse battery")
    assert not passwords.verify_password(stored, "wrong horse battery")
    calls: list[str] = []
    real = passwords._hasher
    dummy = passwords._dummy_hash()  # made once, with the real hasher

    class Counting:
        def verify(self, stored_hash: str, password: str) -> bool:
            calls.append(stored_hash)
            return real.verify(stored_hash, password)

    monkeypatch.setattr(passwords, "_hasher", Counting())
    # An unknown account still pays for one full verification, so timing does not tell it apart.
    assert not passwords.verify_password(None, "correct horse battery")
    assert calls == [dummy]


# --- tokens -------------------------------------------------------------------------------------------


def _token(**changes: Any) -> str:
    token = tokens.issue_access_token(KEYS, issuer=ISS, audience=AUD, user_id="u1", session_id="s1")
    if not changes:
        return token
    claims = {**jwt.decode(token, options={"verify_signature": False}), **changes}
    return jwt.encode(claims, KEYS.active.private_key(), algorithm="RS256", headers={"kid": KEYS.active_kid})


def test_token_round_trip() -> None:
    claims = tokens.verify_access_token(_token(), KEYS.jwks(), issuer=ISS, audience=AUD)
    assert (claims.user_id, claims.session_id) == ("u1", "s1")
    assert "account" in claims.scopes


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"exp": int(time.time()) - 1}, "expired"),
        ({"aud": "other"}, "not valid"),
        ({"iss": "evil"}, "not valid"),
    ],
)
def test_bad_claims_are_refused(changes: dict[str, Any], reason: str) -> None:
    with pytest.raises(UnauthenticatedError, match=reason):
        tokens.verify_access_token(_token(**changes), KEYS.jwks(), issuer=ISS, audience=AUD)


def test_alg_none_and_unknown_keys_are_refused() -> None:
    unsigned = jwt.encode({"sub": "u1"}, key=None, algorithm="none")
    with pytest.raises(UnauthenticatedError, match="algorithm"):
        tokens.verify_access_token(unsigned, KEYS.jwks(), issuer=ISS, audience=AUD)
    with pytest.raises(UnauthenticatedError, match="unknown key"):
        tokens.verify_access_token(_token(), new_keyset().jwks(), issuer=ISS, audience=AUD)


# --- API keys and throttling -------------------------------------------------------------------------


def test_api_key_format_and_scopes() -> None:
    new = apikeys.generate()
    assert apikeys.parse_prefix(new.key) == new.prefix
    with pytest.raises(UnauthenticatedError):
        apikeys.parse_prefix("not-a-key")
    assert apikeys.check_scopes(["search", "videos:read", "search"]) == ["search", "videos:read"]
    with pytest.raises(ValidationFailedError):
        apikeys.check_scopes(["account"])


def test_backoff_doubles_after_the_free_failures_and_caps() -> None:
    waits = [throttle.locked_until(throttle.FailureCounter(n, 1000), 5) - 1000 for n in (4, 5, 6, 7, 30)]
    assert waits[:4] == [-1000, 1, 2, 4]
    assert waits[4] == throttle.MAX_DELAY_S


# --- key sets and rotation ---------------------------------------------------------------------------


def test_rotation_retires_and_pruning_counts_from_retirement() -> None:
    first = new_keyset()
    second = first.rotated(now=1000)
    assert second.active_kid != first.active_kid
    assert second.key(first.active_kid).retired_at == 1000
    assert {k["kid"] for k in second.jwks()["keys"]} == {first.active_kid, second.active_kid}
    assert all("d" not in k for k in second.jwks()["keys"])
    # Created long ago but retired just now: kept. Retired long ago: dropped. The active key: always kept.
    assert len(second.pruned(retired_for_s=600, now=1500).keys) == 2
    assert [k.kid for k in second.pruned(retired_for_s=600, now=2000).keys] == [second.active_kid]
    assert KeySet.from_json(second.to_json()) == second


def test_rotate_keys_command_against_secrets_manager(capsys: pytest.CaptureFixture[str]) -> None:
    with mock_aws():
        client = boto3.client("secretsmanager")
        client.create_secret(Name="keys", SecretString=KEYS.to_json())
        assert rotate_keys.main(["--secret-id", "keys"]) == 0
        stored = KeySet.from_json(client.get_secret_value(SecretId="keys")["SecretString"])
    assert stored.active_kid != KEYS.active_kid
    assert stored.key(KEYS.active_kid).retired_at is not None
    assert stored.active_kid in capsys.readouterr().out


# --- the authorizer -----------------------------------------------------------------------------------

ROUTES = [
    ["GET", "/api/v1/auth/me", "account"],
    ["GET", "/api/v1/videos/{id}", "videos:read"],
    ["POST", "/api/v1/videos", "videos:write"],
    ["GET", "/api/v1/anyone", None],
]
ARN = "arn:aws:execute-api:us-east-1:123456789012:abc123/prod/GET/api/v1/videos/v1"


@pytest.fixture(autouse=True)
def _routes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROUTE_SCOPES", json.dumps(ROUTES))
    authorizer._route_scopes.cache_clear()
    authorizer._cache.clear()


def test_policy_allows_exactly_the_routes_in_scope() -> None:
    policy = authorizer.policy_for(Principal("u1", ("videos:read",), "api_key", api_key_id="k1"), ARN)
    statement = policy["policyDocument"]["Statement"][0]
    assert statement["Effect"] == "Allow"
    base = "arn:aws:execute-api:us-east-1:123456789012:abc123/prod"
    assert statement["Resource"] == [f"{base}/GET/api/v1/videos/*", f"{base}/GET/api/v1/anyone"]
    assert policy["context"] == {
        "user_id": "u1",
        "scopes": "videos:read",
        "auth_type": "api_key",
        "api_key_id": "k1",
    }


def test_a_caller_with_no_usable_scope_is_denied() -> None:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ROUTE_SCOPES", json.dumps(ROUTES[:1]))
        authorizer._route_scopes.cache_clear()
        statement = authorizer.policy_for(Principal("u1", ("search",), "api_key"), ARN)["policyDocument"][
            "Statement"
        ][0]
    assert statement["Effect"] == "Deny"


class _Service:
    def __init__(self, principal: Principal | None) -> None:
        self.principal = principal
        self.calls = 0

    def authenticate(self, headers: dict[str, str]) -> Principal:
        self.calls += 1
        if self.principal is None:
            raise UnauthenticatedError("no")
        return self.principal


class _Context:
    function_name = "skyreel-auth-authorizer"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:skyreel-auth-authorizer"
    aws_request_id = "r"


def test_results_are_cached_per_credential(monkeypatch: pytest.MonkeyPatch) -> None:
    service = _Service(Principal("u1", ("account",), "jwt"))
    monkeypatch.setattr(authorizer.settings, "service", lambda: service)
    for token in ("a", "a", "a", "b"):
        event = {"headers": {"Authorization": f"Bearer {token}"}, "methodArn": ARN}
        assert authorizer.lambda_handler(event, _Context())["principalId"] == "u1"  # type: ignore[arg-type]
    assert service.calls == 2


def test_refusal_is_the_unauthorized_contract(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(authorizer.settings, "service", lambda: _Service(None))
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        authorizer.lambda_handler({"headers": {}, "methodArn": ARN}, _Context())  # type: ignore[arg-type]
