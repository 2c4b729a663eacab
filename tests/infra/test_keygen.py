"""The keygen custom resource: generates once, never rotates, returns only key ids; fills the CDN's key
value store with the media token keys.

The handler runs against a real (moto) Secrets Manager secret holding CloudFormation's placeholder;
the synthesized Lambda's code asset is checked to be self-sufficient (it ships the key set module).
"""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import MissingDependencyException
from moto import mock_aws

from functions.shared.keyset import KeySet, new_keyset, parse_public_jwks
from functions.shared.media_token import MediaKeys
from infra.aws.keygen import handler
from infra.aws.layer import KEYGEN_EXPORT
from infra.aws.secrets import KEYGEN_FILES, KEYGEN_HANDLER
from infra.model import ROOT, SecretKind
from tests.infra.conftest import Synthesized
from tests.infra.helpers import actions_on, logical_id, policy_statements, props, ref

pytestmark = pytest.mark.infra

PLACEHOLDER = "RandomPlaceholderFromCloudFormation0123456789abcd"


@pytest.fixture
def secret_arn(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A real secret (moto) holding the random placeholder CloudFormation creates it with."""
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SECRETS_MANAGER", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        yield boto3.client("secretsmanager").create_secret(Name="keys", SecretString=PLACEHOLDER)["ARN"]


def value(secret_arn: str) -> str:
    secret: str = boto3.client("secretsmanager").get_secret_value(SecretId=secret_arn)["SecretString"]
    return secret


def put(secret_arn: str, secret: str) -> None:
    boto3.client("secretsmanager").put_secret_value(SecretId=secret_arn, SecretString=secret)


def versions(secret_arn: str) -> int:
    listed = boto3.client("secretsmanager").list_secret_version_ids(
        SecretId=secret_arn, IncludeDeprecated=True
    )
    return len(listed["Versions"])


def event(request_type: str, secret_arn: str, kind: SecretKind | None) -> dict[str, Any]:
    properties = {"SecretArn": secret_arn} | ({"Kind": kind.value} if kind else {})
    return {"RequestType": request_type, "ResourceProperties": properties, "PhysicalResourceId": secret_arn}


def test_kinds_are_the_models() -> None:
    assert SecretKind.RSA_KEYSET.value == handler.RSA_KEYSET
    assert SecretKind.MEDIA_TOKEN_KEYS.value == handler.MEDIA_TOKEN_KEYS


@pytest.mark.parametrize("kind", [SecretKind.MEDIA_TOKEN_KEYS, SecretKind.RSA_KEYSET])
def test_delete_leaves_the_secret_alone(secret_arn: str, kind: SecretKind) -> None:
    assert handler.on_event(event("Delete", secret_arn, kind), None) == {"PhysicalResourceId": secret_arn}
    assert value(secret_arn) == PLACEHOLDER


@pytest.mark.parametrize("kind", [SecretKind.RANDOM, None], ids=["random", "no-kind"])
def test_unknown_kind_fails(secret_arn: str, kind: SecretKind | None) -> None:
    with pytest.raises(ValueError, match="unknown secret kind"):
        handler.on_event(event("Create", secret_arn, kind), None)
    assert value(secret_arn) == PLACEHOLDER


# --- MEDIA_TOKEN_KEYS (playback token keys, format from functions/shared/media_token.py) ---------------


STORE_ARN = "arn:aws:cloudfront::123456789012:key-value-store/0123abcd-0000-0000-0000-000000000000"


class FakeKeyValueStore:
    """The KeyValueStore API's contract for the keygen: every write must name the store's current ETag and
    gets a new one. A fake because moto does not implement this API, botocore cannot even stub it without
    awscrt (endpoint resolution asks for SigV4A first), and the real one needs AWS."""

    def __init__(self, items: dict[str, str]) -> None:
        self.items = dict(items)
        self.version = 0

    @property
    def etag(self) -> str:
        return f"e{self.version}"

    def _write(self, arn: str, if_match: str) -> dict[str, Any]:
        assert arn == STORE_ARN
        if if_match != self.etag:
            raise AssertionError(f"stale ETag {if_match}, the store is at {self.etag}")
        self.version += 1
        return {"ETag": self.etag}

    def describe_key_value_store(self, KvsARN: str) -> dict[str, Any]:
        assert KvsARN == STORE_ARN
        return {"ETag": self.etag}

    def put_key(self, KvsARN: str, Key: str, Value: str, IfMatch: str) -> dict[str, Any]:
        answer = self._write(KvsARN, IfMatch)
        self.items[Key] = Value
        return answer

    def delete_key(self, KvsARN: str, Key: str, IfMatch: str) -> dict[str, Any]:
        answer = self._write(KvsARN, IfMatch)
        del self.items[Key]
        return answer

    def get_paginator(self, operation: str) -> Any:
        assert operation == "list_keys"
        items = [{"Key": k, "Value": v} for k, v in sorted(self.items.items())]

        class Pages:
            def paginate(self, KvsARN: str) -> list[dict[str, Any]]:
                assert KvsARN == STORE_ARN
                return [{"Items": items[:1]}, {"Items": items[1:]}]

        return Pages()


def test_create_generates_media_keys_once_and_returns_only_the_key_id(secret_arn: str) -> None:
    result = handler.on_event(event("Create", secret_arn, SecretKind.MEDIA_TOKEN_KEYS), None)
    keys = MediaKeys.from_json(value(secret_arn))
    assert result == {"PhysicalResourceId": secret_arn, "Data": {"ActiveKid": keys.active_kid}}
    assert keys.keys[keys.active_kid] not in str(result)  # key material never becomes an attribute
    again = handler.on_event(event("Update", secret_arn, SecretKind.MEDIA_TOKEN_KEYS), None)
    assert again == result
    assert versions(secret_arn) == 2  # the placeholder and the one key set: never rotated


def test_the_key_value_store_is_made_to_hold_exactly_the_sets_keys() -> None:
    keys = MediaKeys("m2", {"m1": "a" * 43, "m2": "b" * 43})
    store = FakeKeyValueStore({"m0": "retired" * 7, "m1": "stale" * 9})
    handler.sync_key_value_store(store, STORE_ARN, keys)
    assert store.items == keys.keys
    handler.sync_key_value_store(store, STORE_ARN, keys)  # idempotent: a stack update changes nothing
    assert store.items == keys.keys


def test_create_with_a_store_fills_it_from_the_secret(
    secret_arn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = FakeKeyValueStore({})
    real_client = boto3.client
    monkeypatch.setattr(
        handler.boto3,
        "client",
        lambda name, **kw: client if name == "cloudfront-keyvaluestore" else real_client(name, **kw),
    )
    properties = event("Create", secret_arn, SecretKind.MEDIA_TOKEN_KEYS)
    properties["ResourceProperties"]["KeyValueStoreArn"] = STORE_ARN
    handler.on_event(properties, None)
    assert client.items == MediaKeys.from_json(value(secret_arn)).keys


def test_the_key_value_store_api_needs_sigv4a_which_the_keygen_layer_brings(secret_arn: str) -> None:
    """Honest about what runs where: the KeyValueStore API is signed with SigV4A, which botocore does only
    through awscrt (without it, the call fails before anything is sent, as here: awscrt is deliberately not
    in the local environment). The keygen layer installs the `keygen` dependency group: botocore's own crt
    pin. Whether the deployed keygen reaches the store can only be seen in AWS."""
    client = boto3.client("cloudfront-keyvaluestore", region_name="us-east-1")
    with pytest.raises(MissingDependencyException, match="botocore\\[crt\\]"):
        client.describe_key_value_store(KvsARN=STORE_ARN)
    crt_pin = next(r for r in importlib.metadata.requires("botocore") or [] if "extra == 'crt'" in r)
    keygen_group = tomllib.loads((ROOT / "pyproject.toml").read_text())["dependency-groups"]["keygen"]
    assert keygen_group == [crt_pin.split(";")[0].replace(" ", "").replace("(", "").replace(")", "")]
    assert KEYGEN_EXPORT[-2:] == ["--only-group", "keygen"]


# --- RSA_KEYSET (token signing keys, format from functions/shared/keyset.py) ----------------------------


def test_create_generates_a_valid_keyset_once(secret_arn: str) -> None:
    result = handler.on_event(event("Create", secret_arn, SecretKind.RSA_KEYSET), None)
    keyset = KeySet.from_json(value(secret_arn))
    assert len(keyset.keys) == 1
    assert result == {"PhysicalResourceId": secret_arn, "Data": {"ActiveKid": keyset.active_kid}}
    (jwk,) = keyset.jwks()["keys"]
    assert jwk["kid"] == keyset.active_kid
    assert keyset.active.private_key().key_size == 2048
    assert "PRIVATE" not in str(result)

    again = handler.on_event(event("Update", secret_arn, SecretKind.RSA_KEYSET), None)
    assert again == result
    assert KeySet.from_json(value(secret_arn)) == keyset
    assert versions(secret_arn) == 2  # the placeholder and the one key set: never rotated


def test_the_public_keys_secret_gets_the_jwks_and_no_private_key(secret_arn: str) -> None:
    public_arn = boto3.client("secretsmanager").create_secret(Name="public", SecretString=PLACEHOLDER)["ARN"]
    create = event("Create", secret_arn, SecretKind.RSA_KEYSET)
    create["ResourceProperties"]["PublicSecretArn"] = public_arn
    handler.on_event(create, None)
    keyset = KeySet.from_json(value(secret_arn))
    assert parse_public_jwks(value(public_arn)) == keyset.jwks()
    assert "PRIVATE" not in value(public_arn)


def test_an_existing_keyset_is_left_unchanged(secret_arn: str) -> None:
    """Even on Create (e.g. a retained secret re-adopted): rotations done since are never undone."""
    existing = new_keyset().rotated().to_json()
    put(secret_arn, existing)
    for request_type in ("Create", "Update"):
        result = handler.on_event(event(request_type, secret_arn, SecretKind.RSA_KEYSET), None)
        assert value(secret_arn) == existing
        assert result["Data"] == {"ActiveKid": KeySet.from_json(existing).active_kid}
    assert versions(secret_arn) == 2


@pytest.mark.parametrize(
    "invalid",
    [
        "12345",
        '{"active_kid": "k-1", "keys": []}',
        '{"active_kid": "k-1", "keys": [{"kid": "k-1", "private_key_pem": "nope", "created_at": 1}]}',
    ],
    ids=["not-an-object", "active-key-missing", "key-does-not-load"],
)
def test_an_invalid_keyset_is_replaced(secret_arn: str, invalid: str) -> None:
    put(secret_arn, invalid)
    handler.on_event(event("Update", secret_arn, SecretKind.RSA_KEYSET), None)
    assert len(KeySet.from_json(value(secret_arn)).jwks()["keys"]) == 1


# --- The synthesized generator ----------------------------------------------------------------------------


def test_keyset_secret_has_its_generator_with_read_write_access(demo: Synthesized) -> None:
    secrets = demo.stack.secrets
    keyset_ids = [s.id for s in demo.topology.secrets if s.kind is SecretKind.RSA_KEYSET]
    assert keyset_ids, "the demo topology must exercise RSA_KEYSET"
    handler_fn = secrets.node.find_child("KeygenHandler")
    role = handler_fn.node.find_child("ServiceRole")
    statements = policy_statements(demo.template, logical_id(role))
    for secret_id in keyset_ids:
        keygen = props(demo.template, logical_id(secrets.keygens[secret_id]))
        assert keygen["SecretArn"] == ref(secrets.secrets[secret_id])
        assert keygen["Kind"] == "rsa_keyset"
        allowed = actions_on(statements, ref(secrets.secrets[secret_id]))
        assert {"secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue"} <= allowed


def test_keygen_code_asset_ships_exactly_the_handler_and_keyset_module(demo: Synthesized) -> None:
    handler_fn = demo.stack.secrets.node.find_child("KeygenHandler")
    code = props(demo.template, logical_id(handler_fn))
    assert code["Handler"] == KEYGEN_HANDLER
    asset = Path(demo.app.outdir) / f"asset.{code['Code']['S3Key'].removesuffix('.zip')}"
    files = {str(p.relative_to(asset)) for p in asset.rglob("*") if p.is_file()}
    assert files == set(KEYGEN_FILES)
    # The asset alone provides the handler and the key set format (only third-party packages are
    # taken from the environment, as the layer provides them in Lambda).
    module, function = KEYGEN_HANDLER.rsplit(".", 1)
    script = (
        f"import {module} as h, functions.shared.keyset as k; "
        f"assert callable(h.{function}); print(h.__file__); print(k.__file__)"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=asset, env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    assert [Path(p).resolve().is_relative_to(asset.resolve()) for p in out] == [True, True]
