"""The auth domain's pure parts, the authorizer's policy and cache, key sets and their rotation."""

from __future__ import annotations

import itertools
import json
import time
from typing import Any, Literal

import boto3
import jwt
import pytest
from argon2 import PasswordHasher
from moto import mock_aws
from pydantic import ValidationError

from functions.auth import apikeys, authorizer, passwords, policy, rotate_keys, throttle, tokens, wiring
from functions.auth.logic import Authenticated, AuthenticationCache
from functions.auth.settings import AuthorizerSettings
from functions.auth.usage import usage_key
from functions.shared.errors import UnauthenticatedError, ValidationFailedError
from functions.shared.keyset import KeySet, new_keyset, parse_public_jwks
from functions.shared.principal import Caller, caller_from, parse_route_scopes, route_scopes
from infra.local.gateway import _allows as gateway_allows
from infra.topology import TOPOLOGY

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


def test_hash_verify_and_the_dummy_path() -> None:
    stored = passwords.hash_password("correct horse battery")
    assert stored.startswith("$argon2id$")
    assert passwords.verify_password(stored, "correct horse battery")
    assert not passwords.verify_password(stored, "wrong horse battery")
    calls: list[str] = []

    class Counting(PasswordHasher):
        def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
            calls.append(str(hash))
            return super().verify(hash, password)

    hashing = passwords.PasswordHashing(Counting(time_cost=1, memory_cost=8, parallelism=1))
    # An unknown account still pays for one full verification, so timing does not tell it apart.
    assert not hashing.verify(None, "correct horse battery")
    assert calls == [hashing.dummy_hash]


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
    waits = [
        throttle.locked_until(throttle.FailureCounter(n, 1000, 9000), 5) - 1000 for n in (4, 5, 6, 7, 30)
    ]
    assert waits[:4] == [-1000, 1, 2, 4]
    assert waits[4] == throttle.MAX_DELAY_S


def test_a_counter_past_its_window_no_longer_counts() -> None:
    counter = throttle.FailureCounter(9, 1000, 2000)
    assert counter.live_at(2000) == counter
    assert counter.live_at(2001) is None


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
        client.create_secret(Name="public", SecretString=KEYS.public_jwks_json())
        assert rotate_keys.main(["--secret-id", "keys", "--public-secret-id", "public"]) == 0
        stored = KeySet.from_json(client.get_secret_value(SecretId="keys")["SecretString"])
        public = parse_public_jwks(client.get_secret_value(SecretId="public")["SecretString"])
    assert stored.active_kid != KEYS.active_kid
    assert stored.key(KEYS.active_kid).retired_at is not None
    assert stored.active_kid in capsys.readouterr().out
    # The verifiers' secret publishes the new set, and no private key.
    assert public == stored.jwks()
    assert {k["kid"] for k in public["keys"]} == {KEYS.active_kid, stored.active_kid}


def test_a_public_jwks_with_private_material_is_refused() -> None:
    leaked = {"keys": [{**KEYS.jwks()["keys"][0], "d": "secret"}]}
    with pytest.raises(ValueError, match="private key material"):
        parse_public_jwks(json.dumps(leaked))
    assert parse_public_jwks(KEYS.public_jwks_json()) == KEYS.jwks()


# --- the authorizer -----------------------------------------------------------------------------------

ROUTES = [
    ["GET", "/api/v1/auth/me", "account"],
    ["GET", "/api/v1/videos/{id}", "videos:read"],
    ["GET", "/api/v1/videos/{id}/upload", "videos:write"],
    ["POST", "/api/v1/videos", "videos:write"],
    ["GET", "/api/v1/anyone", None],
]
BASE = "arn:aws:execute-api:us-east-1:123456789012:abc123/prod"
ARN = f"{BASE}/GET/api/v1/videos/v1"


def _event(method: str, resource: str, path: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "type": "REQUEST",
        "methodArn": f"{BASE}/{method}{path}",
        "httpMethod": method,
        "resource": resource,
        "headers": headers or {},
    }


# The authorizer's entry point checks its whole environment first; its adapters are replaced per test.
AUTHORIZER_SETTINGS = AuthorizerSettings.model_validate(
    {"AUTH_TABLE_NAME": "t", "JWT_PUBLIC_KEYS_SECRET_ID": "p", "USAGE_KEY_SALT_SECRET_ID": "s"}
)


class _Salt:
    def value(self) -> str:
        return "a-test-salt"


@pytest.fixture(autouse=True)
def _routes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROUTE_SCOPES", json.dumps(ROUTES))
    route_scopes.cache_clear()
    monkeypatch.setattr(wiring, "usage_key_salt", _Salt)
    monkeypatch.setattr(wiring, "authentication_cache", lambda: CACHE)
    monkeypatch.setattr(wiring, "authorizer_settings", lambda: AUTHORIZER_SETTINGS)


def test_every_caller_is_metered_under_its_accounts_key() -> None:
    """A signed-in user and that user's API keys share one usage-plan key; other accounts do not."""
    event = _event("GET", "/api/v1/anyone", "/api/v1/anyone")
    by_token = authorizer.policy_for(Caller("u1", frozenset({"account"}), "jwt"), event)["usageIdentifierKey"]
    by_key = authorizer.policy_for(Caller("u1", frozenset({"search"}), "api_key", api_key_id="k"), event)
    other = authorizer.policy_for(Caller("u2", frozenset({"account"}), "jwt"), event)["usageIdentifierKey"]
    assert by_token == by_key["usageIdentifierKey"] == usage_key("a-test-salt", "u1")
    assert other != by_token
    assert len(by_token) == 64
    assert usage_key("another-salt", "u1") != by_token  # not derivable from the user id alone


def _decision(principal: Caller, method: str, resource: str, path: str) -> bool:
    """What IAM makes of the policy for this request (the local gateway's evaluation)."""
    policy = authorizer.policy_for(principal, _event(method, resource, path))["policyDocument"]
    return gateway_allows(policy, f"{BASE}/{method}{path}")


def test_a_read_key_gets_no_write_route_nested_under_a_read_route() -> None:
    reader = Caller("u1", frozenset({"videos:read"}), "api_key", api_key_id="k1")
    assert _decision(reader, "GET", "/api/v1/videos/{id}", "/api/v1/videos/v1")
    assert not _decision(reader, "GET", "/api/v1/videos/{id}/upload", "/api/v1/videos/v1/upload")
    assert not _decision(reader, "POST", "/api/v1/videos", "/api/v1/videos")
    assert not _decision(reader, "GET", "/api/v1/auth/me", "/api/v1/auth/me")
    assert _decision(reader, "GET", "/api/v1/anyone", "/api/v1/anyone")
    policy = authorizer.policy_for(reader, _event("GET", "/api/v1/videos/{id}", "/api/v1/videos/v1"))
    assert policy["context"] == {
        "user_id": "u1",
        "scopes": "videos:read",
        "auth_type": "api_key",
        "api_key_id": "k1",
        "plan": "free",
    }


def test_a_cached_policy_is_exact_for_every_route() -> None:
    """With API Gateway's cache on, the policy made for one request is evaluated against the others."""
    for scopes in (("videos:read",), ("videos:write",), ("account", "videos:read"), ()):
        caller = Caller("u1", frozenset(scopes), "jwt")
        policy = authorizer.policy_for(caller, _event("GET", "/api/v1/anyone", "/api/v1/anyone"))
        for method, template, scope in ROUTES:
            path = template.replace("{id}", "v1")
            expected = scope is None or scope in scopes
            assert gateway_allows(policy["policyDocument"], f"{BASE}/{method}{path}") == expected, (
                scopes,
                method,
                template,
            )


def test_every_shipped_scope_set_gets_an_exact_route_wide_policy() -> None:
    """The real route table admits an exact policy for any combination of scopes (no fallback)."""
    routes = parse_route_scopes(TOPOLOGY.route_scopes_json())
    scopes = sorted({s for s in routes.values() if s is not None})
    for n in range(len(scopes) + 1):
        for held in itertools.combinations(scopes, n):
            statements = policy.route_statements(routes, frozenset(held))
            assert statements is not None, held
            for (method, template), scope in routes.items():
                concrete = template.replace("{video_id}", "v-1").replace("{key_id}", "k-1")
                assert policy.allows(statements, f"{method}{concrete}") == (scope is None or scope in held)


def test_an_ambiguous_route_table_falls_back_to_this_request_only() -> None:
    """`/a/{x}` and `/a/{x}/b` (read), `/a/{x}/{y}` (write): `/a/*` allows `/a/1/2` too, and the only Deny
    for it, `/a/*/*`, would also refuse `/a/1/b`. So the policy covers this request alone: exact now,
    and if cached it refuses other routes until it expires (fails closed), never lets one through."""
    routes = {
        ("GET", "/a/{x}"): "read",
        ("GET", "/a/{x}/b"): "read",
        ("GET", "/a/{x}/{y}"): "write",
    }
    assert policy.route_statements(routes, frozenset({"read"})) is None
    document = policy.policy_document(routes, ("read",), f"{BASE}/GET/a/1/2", "GET", "/a/{x}/{y}")
    assert not gateway_allows(document, f"{BASE}/GET/a/1/2")
    document = policy.policy_document(routes, ("read",), f"{BASE}/GET/a/1", "GET", "/a/{x}")
    assert gateway_allows(document, f"{BASE}/GET/a/1")
    assert not gateway_allows(document, f"{BASE}/GET/a/1/2")
    assert not gateway_allows(document, f"{BASE}/GET/a/1/b")  # refused while cached: closed, not open


def test_an_unknown_route_or_missing_template_is_denied() -> None:
    caller = Caller("u1", frozenset({"videos:read", "videos:write", "account"}), "jwt")
    event = _event("GET", "/api/v1/videos/{id}", "/api/v1/videos/v1")
    del event["resource"]
    assert not gateway_allows(authorizer.policy_for(caller, event)["policyDocument"], ARN)


class _Service:
    def __init__(self, caller: Caller | None, expires_at: int | None = None) -> None:
        self.result = None if caller is None else Authenticated(caller, expires_at)
        self.calls = 0

    def authenticate(self, headers: dict[str, str]) -> Authenticated:
        self.calls += 1
        if self.result is None:
            raise UnauthenticatedError("no")
        return self.result


class _Context:
    function_name = "skyreel-auth-authorizer"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:skyreel-auth-authorizer"
    aws_request_id = "r"


def _call(token: str) -> dict[str, Any]:
    event = _event("GET", "/api/v1/videos/{id}", "/api/v1/videos/v1", {"Authorization": f"Bearer {token}"})
    return authorizer.lambda_handler(event, _Context())  # type: ignore[arg-type]


CACHE = AuthenticationCache(ttl_s=60, max_entries=100)


def test_results_are_cached_per_credential(monkeypatch: pytest.MonkeyPatch) -> None:
    service = _Service(Caller("u1", frozenset({"account"}), "jwt"))
    monkeypatch.setattr(wiring, "authenticator", lambda: service)
    cache = AuthenticationCache(ttl_s=60, max_entries=100)
    monkeypatch.setattr(wiring, "authentication_cache", lambda: cache)
    for token in ("a", "a", "a", "b"):
        assert _call(token)["principalId"] == "u1"
    assert service.calls == 2


def test_the_context_is_the_one_every_handler_reads_back() -> None:
    caller = Caller("u1", frozenset({"videos:read", "search"}), "api_key", api_key_id="k1", plan="pro")
    context = _call_with(caller)["context"]
    assert all(isinstance(v, str) for v in context.values())  # API Gateway passes strings
    # What API Gateway hands the integration: the context plus keys of its own.
    request_context = {"authorizer": {**context, "principalId": "u1", "integrationLatency": 12}}
    assert caller_from(request_context) == caller
    assert Caller.from_context(Caller("u2", frozenset(), "jwt").to_context()) == Caller(
        "u2", frozenset(), "jwt"
    )
    with pytest.raises(UnauthenticatedError):
        caller_from({"authorizer": {}})


def _call_with(caller: Caller) -> dict[str, Any]:
    return authorizer.policy_for(caller, _event("GET", "/api/v1/anyone", "/api/v1/anyone"))


class _Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_a_token_is_not_served_from_cache_past_its_exp(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = _Clock()
    cache = AuthenticationCache(ttl_s=60, max_entries=100, timer=clock)
    monkeypatch.setattr(wiring, "authentication_cache", lambda: cache)
    service = _Service(Caller("u1", frozenset({"account"}), "jwt"), expires_at=int(clock.now) + 5)
    monkeypatch.setattr(wiring, "authenticator", lambda: service)
    _call("short-lived")
    clock.now += 4
    _call("short-lived")
    assert service.calls == 1  # within its exp and the TTL: served from the cache
    clock.now += 1.5  # past exp, still well inside the 60 s TTL
    _call("short-lived")
    assert service.calls == 2  # asked again (and a real authenticate would refuse the expired token)
    # An API key has no exp: it is cached for the TTL.
    key = _Service(Caller("u2", frozenset({"search"}), "api_key", api_key_id="k"))
    monkeypatch.setattr(wiring, "authenticator", lambda: key)
    _call("key")
    clock.now += cache.ttl_s - 1
    _call("key")
    assert key.calls == 1
    clock.now += 2
    _call("key")
    assert key.calls == 2


def test_a_zero_ttl_caches_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(wiring, "authentication_cache", lambda: AuthenticationCache(ttl_s=0, max_entries=100))
    service = _Service(Caller("u1", frozenset({"account"}), "jwt"))
    monkeypatch.setattr(wiring, "authenticator", lambda: service)
    _call("t")
    _call("t")
    assert service.calls == 2


def test_the_cache_never_exceeds_its_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    cache = AuthenticationCache(ttl_s=60, max_entries=8)
    monkeypatch.setattr(wiring, "authentication_cache", lambda: cache)
    service = _Service(Caller("u1", frozenset({"account"}), "jwt"), expires_at=int(time.time()) + 600)
    monkeypatch.setattr(wiring, "authenticator", lambda: service)
    for i in range(50):
        _call(f"token-{i}")
        assert len(cache) <= 8
    calls = service.calls
    _call("token-49")  # the most recent is still there
    _call("token-0")  # the oldest was evicted
    assert service.calls == calls + 1


def test_the_cache_tunables_come_from_the_authorizers_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    environment = {
        "AUTH_TABLE_NAME": "t",
        "JWT_PUBLIC_KEYS_SECRET_ID": "p",
        "USAGE_KEY_SALT_SECRET_ID": "s",
        "AUTHORIZER_CACHE_TTL_S": "5",
        "AUTHORIZER_CACHE_MAX_ENTRIES": "7",
    }
    settings = authorizer.Settings.model_validate(environment)
    assert (settings.cache_ttl_s, settings.cache_max_entries) == (5, 7)
    defaults = authorizer.Settings.model_validate({k: v for k, v in environment.items() if "CACHE" not in k})
    assert (defaults.cache_ttl_s, defaults.cache_max_entries) == (60, 10_000)


def test_refusal_is_the_unauthorized_contract(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(wiring, "authenticator", lambda: _Service(None))
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        authorizer.lambda_handler({"headers": {}, "methodArn": ARN}, _Context())  # type: ignore[arg-type]


def test_a_refusal_is_logged_as_one_line_with_its_reason(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A refused credential is routine (a typo, an expired token): one record saying why, at INFO, with
    no traceback. The exception that follows is API Gateway's 401 contract, not a fault, and carries no
    chained cause; the local runtime prints no traceback for it
    (tests/cli/test_cli.py::test_a_refused_credential_is_one_log_line)."""
    monkeypatch.setattr(wiring, "authenticator", lambda: _Service(None))
    with caplog.at_level("INFO"), pytest.raises(Exception, match=r"^Unauthorized$") as raised:
        authorizer.lambda_handler({"headers": {}, "methodArn": ARN}, _Context())  # type: ignore[arg-type]
    assert raised.value.__cause__ is None
    assert raised.value.__suppress_context__
    (record,) = caplog.records
    assert (record.levelname, record.getMessage(), record.reason) == ("INFO", "refused", "no")  # type: ignore[attr-defined]
    assert record.exc_info is None


# --- settings: one model per function, validated whole on first use -------------------------------------


def test_each_auth_function_fails_at_first_use_naming_a_missing_grant(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("AUTH_TABLE_NAME", "JWT_SIGNING_KEYS_SECRET_ID", "REGISTRATION_STATE_MACHINE_ARN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AUTH_TABLE_NAME", "t")
    monkeypatch.setenv("JWT_SIGNING_KEYS_SECRET_ID", "s")
    _forget_auth_wiring()
    try:
        with pytest.raises(ValidationError, match="REGISTRATION_STATE_MACHINE_ARN"):
            wiring.service()
        monkeypatch.setenv("REGISTRATION_STATE_MACHINE_ARN", "arn:aws:states:us-east-1:1:stateMachine:r")
        assert wiring.service().workflow is not None  # whole, once: no field is checked at a request
    finally:
        _forget_auth_wiring()


def _forget_auth_wiring() -> None:
    wiring.auth_settings.cache_clear()
    wiring.service.cache_clear()


def test_the_registration_settings_read_the_usage_plans() -> None:
    from functions.auth import registration

    environment = {
        "AUTH_TABLE_NAME": "a",
        "ANALYTICS_TABLE_NAME": "b",
        "EVENTS_EVENT_BUS_NAME": "c",
        "USAGE_KEY_SALT_SECRET_ID": "d",
        "USAGE_PLANS": '{"free":"skyreel-free","pro":"skyreel-pro"}',
    }
    settings = registration.Settings.model_validate(environment)
    assert list(settings.usage_plans) == ["free", "pro"]  # the order is the topology's: the default first
    with pytest.raises(ValidationError, match="USAGE_PLANS"):
        registration.Settings.model_validate({**environment, "USAGE_PLANS": "not json"})
