"""The RSA keygen custom resource: generates once, never rotates, returns only the public key."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from infra.aws.keygen import handler

pytestmark = pytest.mark.infra


class FakeSecrets:
    def __init__(self, value: str) -> None:
        self.value = value
        self.puts = 0

    def get_secret_value(self, SecretId: str) -> dict[str, Any]:
        return {"SecretString": self.value}

    def put_secret_value(self, SecretId: str, SecretString: str) -> None:
        self.value = SecretString
        self.puts += 1


@pytest.fixture
def secrets(monkeypatch: pytest.MonkeyPatch) -> FakeSecrets:
    fake = FakeSecrets("random-placeholder-from-cloudformation")
    monkeypatch.setattr("boto3.client", lambda service: fake)
    return fake


def event(request_type: str) -> dict[str, Any]:
    return {
        "RequestType": request_type,
        "ResourceProperties": {"SecretArn": "arn:secret"},
        "PhysicalResourceId": "arn:secret",
    }


def test_create_generates_a_key_and_returns_only_the_public_half(secrets: FakeSecrets) -> None:
    result = handler.on_event(event("Create"), None)
    assert secrets.puts == 1
    assert secrets.value.startswith("-----BEGIN PRIVATE KEY-----")
    public = result["Data"]["PublicKeyPem"]
    assert public.startswith("-----BEGIN PUBLIC KEY-----")
    assert "PRIVATE" not in str(result)
    key = serialization.load_pem_public_key(public.encode())
    assert key.key_size == 2048  # type: ignore[union-attr]


def test_update_keeps_the_existing_key(secrets: FakeSecrets) -> None:
    first = handler.on_event(event("Create"), None)
    second = handler.on_event(event("Update"), None)
    assert secrets.puts == 1
    assert first["Data"] == second["Data"]


def test_delete_leaves_the_secret_alone(secrets: FakeSecrets) -> None:
    assert handler.on_event(event("Delete"), None) == {"PhysicalResourceId": "arn:secret"}
    assert secrets.puts == 0
