"""Custom resource (provider framework onEvent): an RSA-2048 private key kept in a Secrets Manager secret.

The key is generated only while the secret does not hold one yet, so stack updates never rotate it
(rotating would invalidate every signed media URL in flight). The public key comes back as the
`PublicKeyPem` attribute for CloudFront; the private key never leaves Secrets Manager.
"""

from __future__ import annotations

from typing import Any

import boto3
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

PRIVATE_KEY_HEADER = "-----BEGIN PRIVATE KEY-----"


def on_event(event: dict[str, Any], _context: object) -> dict[str, Any]:
    if event["RequestType"] == "Delete":
        # The secret is its own CloudFormation resource with its own removal policy.
        return {"PhysicalResourceId": event["PhysicalResourceId"]}
    secret_id = event["ResourceProperties"]["SecretArn"]
    client = boto3.client("secretsmanager")
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


def _stored_key(client: Any, secret_id: str) -> str | None:
    value: str = client.get_secret_value(SecretId=secret_id).get("SecretString", "")
    # On first create the secret still holds the random placeholder CloudFormation generated.
    return value if value.startswith(PRIVATE_KEY_HEADER) else None


def _store_new_key(client: Any, secret_id: str) -> str:
    private_pem = new_private_key_pem()
    client.put_secret_value(SecretId=secret_id, SecretString=private_pem)
    return private_pem
