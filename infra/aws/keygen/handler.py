"""Custom resource (provider framework onEvent): RSA signing keys kept in a Secrets Manager secret.

Two kinds, named by the `Kind` property (`infra.model.SecretKind` values):

- `rsa_2048`: one PEM private key. The public key comes back as the `PublicKeyPem` attribute for
  CloudFront; the private key never leaves Secrets Manager.
- `rsa_keyset`: the JSON key set defined by `functions.shared.keyset` (the only definition of that
  format; this asset ships that module). The active key id comes back as `ActiveKid`. With a
  `PublicSecretArn`, the set's public JWKS is written there on every create and update.

Keys are generated only while the secret does not hold valid ones yet (on first create it still holds
the random placeholder CloudFormation generated), so stack updates never rotate them: rotating would
invalidate every signed media URL or token in flight.

Deployed with the `infra` and `functions` packages trimmed to the files it needs, so its handler is
`infra.aws.keygen.handler.on_event`; `cryptography` comes from the shared layer.
"""

from __future__ import annotations

from typing import Any

import boto3
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from functions.shared.keyset import KeySet, new_keyset

PRIVATE_KEY_HEADER = "-----BEGIN PRIVATE KEY-----"
RSA_2048 = "rsa_2048"
RSA_KEYSET = "rsa_keyset"


def on_event(event: dict[str, Any], _context: object) -> dict[str, Any]:
    if event["RequestType"] == "Delete":
        # The secret is its own CloudFormation resource with its own removal policy.
        return {"PhysicalResourceId": event["PhysicalResourceId"]}
    properties = event["ResourceProperties"]
    secret_id = properties["SecretArn"]
    # Resources created before `Kind` existed were all RSA-2048 (their rollbacks send no `Kind`).
    kind = properties.get("Kind", RSA_2048)
    client = boto3.client("secretsmanager")
    if kind == RSA_KEYSET:
        keyset = _stored_keyset(client, secret_id) or _store_new_keyset(client, secret_id)
        if properties.get("PublicSecretArn"):
            # Verifiers (the authorizer) are granted only this secret: the JWKS, no private key.
            client.put_secret_value(
                SecretId=properties["PublicSecretArn"], SecretString=keyset.public_jwks_json()
            )
        return {"PhysicalResourceId": secret_id, "Data": {"ActiveKid": keyset.active_kid}}
    if kind != RSA_2048:
        raise ValueError(f"unknown secret kind {kind!r}")
    private_pem = _stored_key(client, secret_id) or _store_new_key(client, secret_id)
    return {"PhysicalResourceId": secret_id, "Data": {"PublicKeyPem": public_key_pem(private_pem)}}


def new_private_key_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PrivateFormat.PKCS8,
        encryption_algorithm=serialization.NoEncryption(),
    ).decode()


def public_key_pem(private_pem: str) -> str:
    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    return (
        key.public_key()
        .public_bytes(
            encoding=serialization.Encoding.PEM,
            format=serialization.PublicFormat.SubjectPublicKeyInfo,
        )
        .decode()
    )


def _secret_string(client: Any, secret_id: str) -> str:
    value: str = client.get_secret_value(SecretId=secret_id).get("SecretString", "")
    return value


def _stored_key(client: Any, secret_id: str) -> str | None:
    value = _secret_string(client, secret_id)
    return value if value.startswith(PRIVATE_KEY_HEADER) else None


def _store_new_key(client: Any, secret_id: str) -> str:
    private_pem = new_private_key_pem()
    client.put_secret_value(SecretId=secret_id, SecretString=private_pem)
    return private_pem


def _stored_keyset(client: Any, secret_id: str) -> KeySet | None:
    """The secret's key set if it holds a valid one (every key loads), else None."""
    try:
        keyset = KeySet.from_json(_secret_string(client, secret_id))
        keyset.jwks()  # loads every private key
    except (ValueError, KeyError, TypeError, UnsupportedAlgorithm):
        return None
    return keyset


def _store_new_keyset(client: Any, secret_id: str) -> KeySet:
    keyset = new_keyset()
    client.put_secret_value(SecretId=secret_id, SecretString=keyset.to_json())
    return keyset
