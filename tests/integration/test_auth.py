"""Accounts and auth through the local front door: the saga, sessions, API keys and hostile tokens."""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import httpx
import jwt
import pytest

from functions.auth.throttle import IP_FREE_FAILURES
from functions.shared.keyset import KeySet, new_signing_key
from infra.local.cloud import LocalCloud
from infra.topology import TOPOLOGY
from tests.integration.conftest import User, eventually, records, sign_up

pytestmark = pytest.mark.integration
AUTH = "/api/v1/auth"


def _email(tag: str = "") -> str:
    return f"user-{uuid.uuid4().hex[:10]}{tag}@example.com"


def _auth_items(cloud: LocalCloud, email: str) -> list[dict[str, Any]]:
    """Everything any store holds about an email or its user."""
    ddb = cloud.aws.client("dynamodb")
    found = []
    for table in ("auth", "analytics"):
        for page in ddb.get_paginator("scan").paginate(TableName=cloud.names.table(table)):
            found += [i for i in page["Items"] if email in json.dumps(i)]
    user_ids = {i["user_id"]["S"] for i in found if "user_id" in i} | {
        i["id"]["S"] for i in found if "id" in i and i["sk"]["S"] == "USER"
    }
    for table in ("auth", "analytics"):
        for page in ddb.get_paginator("scan").paginate(TableName=cloud.names.table(table)):
            found += [i for i in page["Items"] if any(u in i["pk"]["S"] for u in user_ids)]
    return found


# --- registration --------------------------------------------------------------------------------


def test_register_creates_everything_and_announces_it(http: httpx.Client, cloud: LocalCloud) -> None:
    email = _email()
    response = http.post(
        f"{AUTH}/register",
        json={"email": email.upper(), "password": "a long enough passphrase", "display_name": "Ada"},
    )
    assert response.status_code == 201, response.text
    user = response.json()["user"]
    assert user["email"] == email  # normalised
    assert set(user) == {"id", "email", "display_name", "created_at"}  # no hash, no internals
    kinds = {i["sk"]["S"] for i in _auth_items(cloud, email)}
    assert {"USER", "EMAIL", "PROFILE"} <= kinds
    announced = eventually(lambda: [p for p in records(cloud, "eventbridge") if user["id"] in p])
    assert json.loads(announced[0])["detail-type"] == "user.registered"


def test_duplicate_email_is_409_whatever_its_case(http: httpx.Client) -> None:
    email = _email()
    assert (
        http.post(
            f"{AUTH}/register", json={"email": email, "password": "a long enough passphrase"}
        ).status_code
        == 201
    )
    again = http.post(f"{AUTH}/register", json={"email": email.title(), "password": "another passphrase!"})
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "conflict"


@pytest.mark.parametrize(
    ("password", "rule"),
    [("short", "at least 10"), ("password123", "most common"), ("{local}-is-my-password", "email address")],
)
def test_weak_passwords_are_422_with_the_rule_named(
    http: httpx.Client, cloud: LocalCloud, password: str, rule: str
) -> None:
    email = _email()
    response = http.post(
        f"{AUTH}/register", json={"email": email, "password": password.format(local=email.split("@")[0])}
    )
    assert response.status_code == 422
    assert any(rule in d["message"] for d in response.json()["error"]["details"])
    assert _auth_items(cloud, email) == []  # bad input changes nothing


@pytest.mark.parametrize(
    "body",
    [
        {"email": "not-an-email", "password": "a long enough passphrase"},
        {"email": "a@example.com"},
        {"email": "a@example.com", "password": "x" * 20, "admin": True},
    ],
)
def test_malformed_registrations_are_422(http: httpx.Client, body: dict[str, Any]) -> None:
    assert http.post(f"{AUTH}/register", json=body).status_code == 422


@pytest.mark.parametrize(
    "step", ["create_user", "create_profile", "create_analytics_profile", "publish_registered"]
)
def test_a_failing_saga_step_leaves_nothing_behind(http: httpx.Client, cloud: LocalCloud, step: str) -> None:
    email = _email(f"+fail-{step}")
    response = http.post(f"{AUTH}/register", json={"email": email, "password": "a long enough passphrase"})
    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] == "dependency_unavailable"
    assert _auth_items(cloud, email) == []
    # The email is free again: the same person can register once the fault is gone.
    assert (
        http.post(f"{AUTH}/login", json={"email": email, "password": "a long enough passphrase"}).status_code
        == 401
    )


def _execution_data(cloud: LocalCloud, user_id: str) -> str:
    """Everything Step Functions keeps about one registration: its input, output and history."""
    sfn = cloud.aws.client("stepfunctions")
    arn = cloud.names.state_machine_arn("registration").replace(":stateMachine:", ":execution:")
    execution = f"{arn}:{user_id}"
    described = sfn.describe_execution(executionArn=execution)
    history = sfn.get_execution_history(executionArn=execution, maxResults=1000)["events"]
    return json.dumps([described, history], default=str)


def test_step_functions_never_hold_the_hash_or_the_email(http: httpx.Client, cloud: LocalCloud) -> None:
    email = _email()
    response = http.post(f"{AUTH}/register", json={"email": email, "password": "a long enough passphrase"})
    assert response.status_code == 201, response.text
    user_id = response.json()["user"]["id"]
    data = _execution_data(cloud, user_id)
    assert user_id in data  # the execution is the right one: it carries the id
    assert email not in data
    assert "$argon2" not in data
    assert _stored(cloud, f"REGISTRATION#{user_id}", "PENDING") is None  # the pending record is gone
    # A failed registration (its errors and compensations) and a taken email (the 409 path) too.
    failing = _email("+fail-create_profile")
    body = {"email": failing, "password": "a long enough passphrase"}
    assert http.post(f"{AUTH}/register", json=body).status_code == 503
    body = {"email": email, "password": "a long enough passphrase"}
    assert http.post(f"{AUTH}/register", json=body).status_code == 409
    pages = (
        cloud.aws.client("stepfunctions")
        .get_paginator("list_executions")
        .paginate(stateMachineArn=cloud.names.state_machine_arn("registration"))
    )
    executions = [e for page in pages for e in page["executions"]]
    assert {e["status"] for e in executions} >= {"SUCCEEDED", "FAILED"}
    for execution in executions:
        data = _execution_data(cloud, execution["name"])
        assert "@example.com" not in data, execution["name"]
        assert "$argon2" not in data, execution["name"]


# --- sessions --------------------------------------------------------------------------------------


def test_login_refresh_logout(http: httpx.Client, user: User) -> None:
    me = http.get(f"{AUTH}/me", headers=user.headers)
    assert me.status_code == 200
    assert me.json()["email"] == user.email
    refreshed = http.post(f"{AUTH}/refresh", json={"refresh_token": user.refresh_token})
    assert refreshed.status_code == 200
    pair = refreshed.json()
    assert pair["refresh_token"] != user.refresh_token
    assert pair["token_type"] == "Bearer"
    assert http.post(f"{AUTH}/logout", json={"refresh_token": pair["refresh_token"]}).status_code == 204
    assert http.post(f"{AUTH}/refresh", json={"refresh_token": pair["refresh_token"]}).status_code == 401
    # Logout ends the session, so its access tokens stop working too.
    assert (
        http.get(f"{AUTH}/me", headers={"Authorization": f"Bearer {pair['access_token']}"}).status_code == 401
    )


def test_reusing_a_refresh_token_revokes_its_whole_family(http: httpx.Client, user: User) -> None:
    first = http.post(f"{AUTH}/refresh", json={"refresh_token": user.refresh_token}).json()
    reused = http.post(f"{AUTH}/refresh", json={"refresh_token": user.refresh_token})
    assert reused.status_code == 401
    assert "already used" in reused.json()["error"]["message"]
    # The legitimate successor dies with it: we cannot tell the thief from the owner.
    assert http.post(f"{AUTH}/refresh", json={"refresh_token": first["refresh_token"]}).status_code == 401
    assert (
        http.get(f"{AUTH}/me", headers={"Authorization": f"Bearer {first['access_token']}"}).status_code
        == 401
    )
    # Other sessions of the same account are untouched.
    other = http.post(f"{AUTH}/login", json={"email": user.email, "password": user.password}).json()
    assert (
        http.get(f"{AUTH}/me", headers={"Authorization": f"Bearer {other['access_token']}"}).status_code
        == 200
    )


def test_wrong_password_and_unknown_email_look_the_same(http: httpx.Client, user: User) -> None:
    wrong = http.post(f"{AUTH}/login", json={"email": user.email, "password": "not the password"})
    unknown = http.post(f"{AUTH}/login", json={"email": _email(), "password": "not the password"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()


def test_failed_logins_back_off_with_retry_after(http: httpx.Client) -> None:
    victim = sign_up(http)

    def attempt(password: str) -> httpx.Response:
        return http.post(f"{AUTH}/login", json={"email": victim.email, "password": password})

    assert [attempt(f"guess {i}").status_code for i in range(5)] == [401] * 5  # five free failures
    # Then each failure doubles the wait (1 s, 2 s, 4 s ...): fail until the lock is long enough that the
    # next request surely lands inside it, however slow this machine is today. A refused attempt does not
    # count, so wait out each short lock before the next failure.
    locked = attempt("guess 5")
    for i in range(6, 16):
        if locked.status_code == 429:
            if int(locked.headers["retry-after"]) >= 4:
                break
            time.sleep(int(locked.headers["retry-after"]) + 0.1)
        locked = attempt(f"guess {i}")
    assert locked.status_code == 429
    assert locked.json()["error"]["code"] == "throttled"
    assert attempt(victim.password).status_code == 429  # even the right password waits out the lock
    time.sleep(int(attempt(victim.password).headers["retry-after"]) + 0.5)
    assert attempt(victim.password).status_code == 200


def _stored(cloud: LocalCloud, pk: str, sk: str) -> dict[str, Any] | None:
    item = cloud.aws.client("dynamodb").get_item(
        TableName=cloud.names.table("auth"), Key={"pk": {"S": pk}, "sk": {"S": sk}}, ConsistentRead=True
    )
    return item.get("Item")


def test_failed_logins_are_throttled_per_source_address(
    http: httpx.Client, cloud: LocalCloud, user: User
) -> None:
    # The front door takes the client address from X-Forwarded-For when the connection comes from
    # 127.0.0.1 (uvicorn's proxy headers) and hands it on as requestContext.identity.sourceIp. Every
    # failure here comes from that made-up address, so other tests' failures from 127.0.0.1 do not add up.
    address = f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250 + 1}"

    def attempt(email: str, password: str, source: str = address) -> httpx.Response:
        return http.post(
            f"{AUTH}/login", json={"email": email, "password": password}, headers={"X-Forwarded-For": source}
        )

    # One guess each at many accounts: no account comes near its own limit, the address reaches its own.
    failed = [attempt(_email(), "not the passphrase").status_code for _ in range(IP_FREE_FAILURES)]
    assert failed == [401] * IP_FREE_FAILURES
    counter = _stored(cloud, f"THROTTLE#ip#{address}", "THROTTLE")
    assert counter is not None, "the front door did not pass X-Forwarded-For on as the source address"
    assert counter["failures"]["N"] == str(IP_FREE_FAILURES)
    # Locked for 1 s, then each further failure doubles it. Wait out the short locks (a refused attempt
    # does not count) until one is long enough to outlast the next two requests on a slow machine.
    locked = attempt(_email(), "not the passphrase")
    for _ in range(10):
        if locked.status_code == 429:
            if int(locked.headers["retry-after"]) >= 3:
                break
            time.sleep(int(locked.headers["retry-after"]) + 0.1)
        locked = attempt(_email(), "not the passphrase")
    assert locked.status_code == 429
    assert locked.json()["error"]["code"] == "throttled"
    # A user with no failures of their own, with the right password: refused from that address only.
    assert attempt(user.email, user.password).status_code == 429
    assert _stored(cloud, f"THROTTLE#account#{user.email}", "THROTTLE") is None
    assert attempt(user.email, user.password, source="10.255.255.254").status_code == 200


def _address() -> str:
    """A made-up client address: the front door takes it from X-Forwarded-For on a connection from
    127.0.0.1 (uvicorn's trusted proxy), so other tests' failures from 127.0.0.1 do not add up."""
    return f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250 + 1}"


def _warm_auth_sandboxes(http: httpx.Client, parallel: int = 8) -> None:
    """Start the auth function's sandboxes before a burst: several cold starts at once on a loaded machine
    can outlast Lambda's 10 s init limit (a 504), which is not what the burst is testing. Each warming
    call runs argon2 (an unknown email from an address of its own), so all of them overlap."""

    def slow_call(_: int) -> int:
        body = {"email": _email(), "password": "not the passphrase"}
        return http.post(f"{AUTH}/login", json=body, headers={"X-Forwarded-For": _address()}).status_code

    for _ in range(6):  # best effort: a sandbox whose init timed out is started again next round
        with ThreadPoolExecutor(parallel) as pool:
            if all(status == 401 for status in pool.map(slow_call, range(parallel))):
                return


def test_parallel_wrong_passwords_cannot_all_reach_argon2(http: httpx.Client, cloud: LocalCloud) -> None:
    victim = sign_up(http)
    address = _address()

    def attempt(password: str) -> httpx.Response:
        return http.post(
            f"{AUTH}/login",
            json={"email": victim.email, "password": password},
            headers={"X-Forwarded-For": address},
        )

    assert [attempt(f"guess {i}").status_code for i in range(5)] == [401] * 5  # the free failures
    # Ten failures, the last long ago: the lock is over, and the next failure locks the account for
    # 2**6 = 64 s, longer than the burst can take even when sandboxes start slowly.
    cloud.aws.client("dynamodb").update_item(
        TableName=cloud.names.table("auth"),
        Key={"pk": {"S": f"THROTTLE#account#{victim.email}"}, "sk": {"S": "THROTTLE"}},
        UpdateExpression="SET failures = :ten, last_failure_at = :long_ago",
        ExpressionAttributeValues={":ten": {"N": "10"}, ":long_ago": {"N": str(int(time.time()) - 3600)}},
    )
    before = _stored(cloud, f"THROTTLE#account#{victim.email}", "THROTTLE")
    assert before is not None
    _warm_auth_sandboxes(http)
    with ThreadPoolExecutor(12) as pool:
        statuses = list(pool.map(lambda i: attempt(f"parallel guess {i}").status_code, range(12)))
    # One slot was free: at most one attempt reached argon2, every other one was refused before it.
    # (Checked the lock, then verified, then counted, all of them would pass the check together and be
    # verified.) A 504 is a sandbox whose init outlasted Lambda's 10 s on an overloaded machine: that
    # request never reached the handler.
    assert set(statuses) <= {401, 429, 504}, statuses
    assert statuses.count(401) <= 1, statuses
    assert statuses.count(429) >= 12 - statuses.count(504) - 1, statuses
    assert statuses.count(504) <= 6, statuses  # most reached the handler
    after = _stored(cloud, f"THROTTLE#account#{victim.email}", "THROTTLE")
    assert after is not None
    assert int(after["failures"]["N"]) - int(before["failures"]["N"]) == 1  # one slot, taken once


def test_a_client_cannot_choose_its_viewer_address(http: httpx.Client, cloud: LocalCloud) -> None:
    """The per-address count keys on CloudFront-Viewer-Address, which CloudFront sets; locally the front
    door sets it from the connection and drops a client's own."""
    real, forged = _address(), _address()
    response = http.post(
        f"{AUTH}/login",
        json={"email": _email(), "password": "not the passphrase"},
        headers={"X-Forwarded-For": real, "CloudFront-Viewer-Address": f"{forged}:443"},
    )
    assert response.status_code == 401
    counted = _stored(cloud, f"THROTTLE#ip#{real}", "THROTTLE")
    assert counted is not None
    assert counted["failures"]["N"] == "1"
    assert _stored(cloud, f"THROTTLE#ip#{forged}", "THROTTLE") is None


# --- API keys ----------------------------------------------------------------------------------------


def test_api_key_lifecycle_and_scopes(http: httpx.Client, user: User) -> None:
    created = http.post(
        f"{AUTH}/api-keys", headers=user.headers, json={"name": "ci", "scopes": ["videos:read"]}
    )
    assert created.status_code == 201, created.text
    key = created.json()["key"]
    assert key.startswith(created.json()["prefix"])
    listed = http.get(f"{AUTH}/api-keys", headers=user.headers).json()["items"]
    assert [k["id"] for k in listed] == [created.json()["id"]]
    assert "key" not in listed[0]  # shown once, never again
    scoped = http.get("/api/test/scoped", headers={"X-API-Key": key})
    assert scoped.status_code == 200
    assert scoped.json()["authorizer"]["auth_type"] == "api_key"
    assert http.get(f"{AUTH}/me", headers={"X-API-Key": key}).status_code == 403  # wrong scope
    assert http.delete(f"{AUTH}/api-keys/{created.json()['id']}", headers=user.headers).status_code == 204
    assert http.get("/api/test/scoped", headers={"X-API-Key": key}).status_code == 401  # revoked
    assert http.delete(f"{AUTH}/api-keys/{created.json()['id']}", headers=user.headers).status_code == 404


def test_using_an_api_key_records_its_last_use(http: httpx.Client, cloud: LocalCloud, user: User) -> None:
    created = http.post(
        f"{AUTH}/api-keys", headers=user.headers, json={"name": "ci", "scopes": ["videos:read"]}
    ).json()
    assert http.get(f"{AUTH}/api-keys", headers=user.headers).json()["items"][0]["last_used_at"] is None
    used_at = time.time()
    assert http.get("/api/test/scoped", headers={"X-API-Key": created["key"]}).status_code == 200
    [listed] = http.get(f"{AUTH}/api-keys", headers=user.headers).json()["items"]
    assert listed["last_used_at"] is not None
    recorded = datetime.fromisoformat(listed["last_used_at"].replace("Z", "+00:00"))
    assert recorded.tzinfo == UTC
    assert used_at - 2 <= recorded.timestamp() <= time.time() + 1
    # Both stored copies: the owner's listing and the lookup the authorizer reads.
    user_id = http.get(f"{AUTH}/me", headers=user.headers).json()["id"]
    fingerprint = hashlib.sha256(created["key"].encode()).hexdigest()
    for pk, sk in ((f"USER#{user_id}", f"APIKEY#{created['id']}"), (f"APIKEY#{fingerprint}", "APIKEY")):
        item = _stored(cloud, pk, sk)
        assert item is not None, (pk, sk)
        assert item["last_used_at"]["S"] == listed["last_used_at"]


def test_api_keys_are_private_to_their_owner(http: httpx.Client, user: User) -> None:
    created = http.post(
        f"{AUTH}/api-keys", headers=user.headers, json={"name": "mine", "scopes": ["search"]}
    ).json()
    other = sign_up(http)
    assert http.delete(f"{AUTH}/api-keys/{created['id']}", headers=other.headers).status_code == 404
    assert http.get(f"{AUTH}/api-keys", headers=other.headers).json()["items"] == []


def test_a_read_key_gets_exactly_the_read_routes(http: httpx.Client, user: User) -> None:
    """`GET /videos/{id}` must not open `GET /videos/{id}/upload` (presigned upload URLs) to a read key."""
    body = {"title": "x", "upload": {"filename": "a.mp4", "content_type": "video/mp4", "size_bytes": 10}}
    created = http.post("/api/v1/videos", headers=user.headers, json=body)
    assert created.status_code == 201, created.text
    video_id = created.json()["video"]["id"]
    key = http.post(
        f"{AUTH}/api-keys", headers=user.headers, json={"name": "reader", "scopes": ["videos:read"]}
    ).json()["key"]
    reader = {"X-API-Key": key}
    routes = [r for r in TOPOLOGY.api.routes if r.scope in {"videos:read", "videos:write"}]
    assert any(r.method == "GET" and r.path.endswith("/upload") for r in routes)
    for route in routes:
        path = route.path.replace("{video_id}", video_id)
        response = http.request(
            route.method, path, headers=reader, json={} if route.method != "GET" else None
        )
        if route.scope == "videos:write":
            assert response.status_code == 403, (route.method, route.path, response.text)
            assert response.json()["error"]["code"] == "forbidden"
        elif route.path.endswith("/playback"):
            assert response.status_code == 409, response.text  # the handler's answer: not ready yet
        elif route.path.endswith("/views"):
            assert response.status_code == 422, response.text  # let through: an empty beacon is refused
        else:
            assert response.status_code == 200, (route.method, route.path, response.text)
    assert http.get(f"/api/v1/videos/{video_id}/upload", headers=user.headers).status_code == 200


@pytest.mark.parametrize("scopes", [[], ["account"], ["videos:read", "admin"]])
def test_api_key_scopes_are_checked(http: httpx.Client, user: User, scopes: list[str]) -> None:
    response = http.post(f"{AUTH}/api-keys", headers=user.headers, json={"name": "x", "scopes": scopes})
    assert response.status_code == 422


def _move_to_plan(cloud: LocalCloud, user_id: str, plan_id: str) -> None:
    """What a plan change does in API Gateway: the account's key leaves its plan and joins another."""
    apigw = cloud.aws.client("apigateway")
    [key] = [k for k in apigw.get_api_keys()["items"] if k["name"] == f"account-{user_id}"]
    plans = {p["name"]: p["id"] for p in apigw.get_usage_plans()["items"]}
    for current in apigw.get_usage_plans(keyId=key["id"])["items"]:
        apigw.delete_usage_plan_key(usagePlanId=current["id"], keyId=key["id"])
    apigw.create_usage_plan_key(
        usagePlanId=plans[cloud.names.usage_plan(plan_id)], keyId=key["id"], keyType="API_KEY"
    )


def test_a_caller_past_its_plans_burst_gets_429_and_others_do_not(
    http: httpx.Client, cloud: LocalCloud
) -> None:
    """Usage plans meter each account, signed in or by API key: a burst past the plan's limit is 429 with
    Retry-After for that caller only."""
    hasty, calm = sign_up(http), sign_up(http)
    hasty_id = http.get(f"{AUTH}/me", headers=hasty.headers).json()["id"]
    key = http.post(f"{AUTH}/api-keys", headers=hasty.headers, json={"name": "ci", "scopes": ["videos:read"]})
    assert key.status_code == 201, key.text
    by_key = {"X-API-Key": key.json()["key"]}
    _move_to_plan(cloud, hasty_id, "tiny")  # 1 request a second, bursts of 3
    time.sleep(1.2)  # the gateway reads a key's plan afresh after a second

    # Signed-in requests and the account's API key alternate: one account, one bucket.
    hurried = [
        http.get(f"{AUTH}/me", headers=hasty.headers)
        if i % 2 == 0
        else http.get("/api/v1/videos", headers=by_key)
        for i in range(10)
    ]
    statuses = [r.status_code for r in hurried]
    assert statuses[:3] == [200, 200, 200], statuses  # the burst
    assert statuses.count(429) >= 4, statuses  # then one a second, far slower than these requests
    assert 429 in statuses[1::2], statuses  # the API key's requests too
    refused = next(r for r in hurried if r.status_code == 429)
    assert refused.json()["error"]["code"] == "throttled"
    assert int(refused.headers["retry-after"]) >= 1
    calm_statuses = [http.get(f"{AUTH}/me", headers=calm.headers).status_code for _ in range(10)]
    assert calm_statuses == [200] * 10  # another account: unaffected
    time.sleep(int(refused.headers["retry-after"]) + 0.2)
    assert http.get(f"{AUTH}/me", headers=hasty.headers).status_code == 200  # it waited: served again


# --- hostile tokens ------------------------------------------------------------------------------------


def _keyset(cloud: LocalCloud) -> KeySet:
    secret = cloud.aws.client("secretsmanager").get_secret_value(
        SecretId=cloud.names.secret("jwt_signing_keys")
    )
    return KeySet.from_json(secret["SecretString"])


def _forge(cloud: LocalCloud, user: User, **changes: Any) -> str:
    claims = jwt.decode(user.access_token, options={"verify_signature": False})
    claims.update(changes)
    key = _keyset(cloud).active
    return jwt.encode(claims, key.private_key(), algorithm="RS256", headers={"kid": key.kid})


def test_hostile_tokens_are_refused(http: httpx.Client, cloud: LocalCloud, user: User) -> None:
    header, payload, signature = user.access_token.split(".")
    claims = jwt.decode(user.access_token, options={"verify_signature": False})
    tampered_claims = jwt.utils.base64url_encode(
        json.dumps({**claims, "sub": "someone-else"}).encode()
    ).decode()
    none_header = jwt.utils.base64url_encode(json.dumps({"alg": "none", "typ": "JWT"}).encode()).decode()
    stranger = new_signing_key()
    hostile = {
        "tampered": f"{header}.{tampered_claims}.{signature}",
        "alg none": f"{none_header}.{payload}.",
        "expired": _forge(cloud, user, exp=int(time.time()) - 5, iat=int(time.time()) - 1000),
        "wrong issuer": _forge(cloud, user, iss="evil"),
        "wrong audience": _forge(cloud, user, aud="another-api"),
        "foreign key, our kid": jwt.encode(
            claims, stranger.private_key(), algorithm="RS256", headers={"kid": _keyset(cloud).active_kid}
        ),
        "HS256": jwt.api_jws.PyJWS().encode(
            json.dumps(claims).encode(), b"a-symmetric-secret-of-32-bytes!!", algorithm="HS256"
        ),
        "garbage": "not.a.jwt",
    }
    for name, token in hostile.items():
        response = http.get(f"{AUTH}/me", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, name
    assert http.get(f"{AUTH}/me", headers=user.headers).status_code == 200


def test_jwks_publishes_the_verifying_keys(http: httpx.Client, user: User) -> None:
    jwks = http.get("/.well-known/jwks.json")
    assert jwks.status_code == 200
    kid = jwt.get_unverified_header(user.access_token)["kid"]
    key = next(k for k in jwks.json()["keys"] if k["kid"] == kid)
    assert "d" not in key  # public half only
    claims = jwt.decode(
        user.access_token, jwt.PyJWK.from_dict(key).key, algorithms=["RS256"], audience="skyreel-api"
    )
    assert claims["sub"]


def test_key_rotation_keeps_old_tokens_valid(http: httpx.Client, cloud: LocalCloud, user: User) -> None:
    sm = cloud.aws.client("secretsmanager")
    secret_id = cloud.names.secret("jwt_signing_keys")
    public_id = cloud.names.secret("jwt_public_keys")
    before = _keyset(cloud)
    rotated = before.rotated()
    # As rotate_keys does: publish the public half (what the authorizer reads) before signing with it.
    sm.put_secret_value(SecretId=public_id, SecretString=rotated.public_jwks_json())
    sm.put_secret_value(SecretId=secret_id, SecretString=rotated.to_json())
    try:
        # A token signed before the rotation still verifies (its key is still published).
        assert http.get(f"{AUTH}/me", headers=user.headers).status_code == 200
        # A token signed with the new key verifies too, though sandboxes cached the old set.
        fresh = http.post(f"{AUTH}/login", json={"email": user.email, "password": user.password}).json()
        assert jwt.get_unverified_header(fresh["access_token"])["kid"] in {
            before.active_kid,
            rotated.active_kid,
        }
        forged_new = jwt.encode(
            jwt.decode(user.access_token, options={"verify_signature": False}),
            rotated.active.private_key(),
            algorithm="RS256",
            headers={"kid": rotated.active_kid},
        )
        assert http.get(f"{AUTH}/me", headers={"Authorization": f"Bearer {forged_new}"}).status_code == 200
        kids = {k["kid"] for k in http.get("/.well-known/jwks.json").json()["keys"]}
        assert before.active_kid in kids  # the old key stays published while its tokens live
    finally:
        sm.put_secret_value(SecretId=secret_id, SecretString=before.to_json())
        sm.put_secret_value(SecretId=public_id, SecretString=before.public_jwks_json())
