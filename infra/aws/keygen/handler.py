"""Custom resource (provider framework onEvent): signing keys generated into a Secrets Manager secret.

Two kinds, named by the `Kind` property (`infra.model.SecretKind` values):

- `rsa_keyset`: the JSON key set defined by `functions.shared.keyset` (the only definition of that
  format; this asset ships that module). The active key id comes back as `ActiveKid`. With a
  `PublicSecretArn`, the set's public JWKS is written there on every create and update.
- `media_token_keys`: the HMAC key set defined by `functions.shared.media_token` (shipped too). With a
  `KeyValueStoreArn` property, the store is made to hold exactly the set's keys (by key id): the media
  CloudFront Function reads them there. The KeyValueStore API is signed with SigV4A, which botocore does
  through awscrt; the keygen layer brings it.

Keys are generated only while the secret does not hold valid ones yet (on first create it still holds
the random placeholder CloudFormation generated), so stack updates never rotate them: rotating would
invalidate every token or playback URL in flight. Key material never passes through the template or
the resource's attributes (only the active key id comes back).

Deployed with the `infra` and `functions` packages trimmed to the files it needs, so its handler is
`infra.aws.keygen.handler.on_event`; `cryptography` comes from the shared layer.
"""

from __future__ import annotations

from typing import Any

import boto3
from cryptography.exceptions import UnsupportedAlgorithm

from functions.shared.keyset import KeySet, new_keyset
from functions.shared.media_token import MediaKeys, new_media_keys

RSA_KEYSET = "rsa_keyset"
MEDIA_TOKEN_KEYS = "media_token_keys"  # noqa: S105 - a secret kind, not a secret


def on_event(event: dict[str, Any], _context: object) -> dict[str, Any]:
    if event["RequestType"] == "Delete":
        # The secret and the key value store are their own CloudFormation resources.
        return {"PhysicalResourceId": event["PhysicalResourceId"]}
    properties = event["ResourceProperties"]
    secret_id = properties["SecretArn"]
    kind = properties.get("Kind")
    client = boto3.client("secretsmanager")
    if kind == RSA_KEYSET:
        keyset = _stored_keyset(client, secret_id) or _store_new_keyset(client, secret_id)
        if properties.get("PublicSecretArn"):
            # Verifiers (the authorizer) are granted only this secret: the JWKS, no private key.
            client.put_secret_value(
                SecretId=properties["PublicSecretArn"], SecretString=keyset.public_jwks_json()
            )
        return {"PhysicalResourceId": secret_id, "Data": {"ActiveKid": keyset.active_kid}}
    if kind == MEDIA_TOKEN_KEYS:
        keys = _stored_media_keys(client, secret_id) or _store_new_media_keys(client, secret_id)
        store_arn = properties.get("KeyValueStoreArn")
        if store_arn:
            sync_key_value_store(boto3.client("cloudfront-keyvaluestore"), store_arn, keys)
        return {"PhysicalResourceId": secret_id, "Data": {"ActiveKid": keys.active_kid}}
    raise ValueError(f"unknown secret kind {kind!r}")


def sync_key_value_store(kvs: Any, store_arn: str, keys: MediaKeys) -> None:
    """Make the store hold exactly the set's keys. Every write names the store's current ETag."""
    etag = kvs.describe_key_value_store(KvsARN=store_arn)["ETag"]
    for kid, value in sorted(keys.keys.items()):
        etag = kvs.put_key(KvsARN=store_arn, Key=kid, Value=value, IfMatch=etag)["ETag"]
    stored = [
        item["Key"]
        for page in kvs.get_paginator("list_keys").paginate(KvsARN=store_arn)
        for item in page.get("Items", [])
    ]
    for kid in stored:
        if kid not in keys.keys:  # dropped from the set: the tokens it signed must stop opening media
            etag = kvs.delete_key(KvsARN=store_arn, Key=kid, IfMatch=etag)["ETag"]


def _secret_string(client: Any, secret_id: str) -> str:
    value: str = client.get_secret_value(SecretId=secret_id).get("SecretString", "")
    return value


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


def _stored_media_keys(client: Any, secret_id: str) -> MediaKeys | None:
    try:
        return MediaKeys.from_json(_secret_string(client, secret_id))
    except (ValueError, KeyError, TypeError):
        return None


def _store_new_media_keys(client: Any, secret_id: str) -> MediaKeys:
    keys = new_media_keys()
    client.put_secret_value(SecretId=secret_id, SecretString=keys.to_json())
    return keys
