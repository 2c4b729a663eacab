"""Rotate the access-token signing keys:
`python -m functions.auth.rotate_keys --secret-id ID --public-secret-id PUBLIC_ID`.

Adds a new active key, keeps the previous ones published until every token they signed has expired,
then drops them. Runs against whatever AWS_ENDPOINT_URL points at: AWS, the local cloud or LocalStack.
docs/auth.md explains the timing.
"""

from __future__ import annotations

import argparse
import sys

import boto3

from functions.auth.tokens import ACCESS_TOKEN_TTL_S
from functions.shared.keyset import KeySet

# A retired key must outlive: the longest access token it signed, plus the time a sandbox may keep an
# old key set cached (KeyStore: 5 min), plus the authorizer's result cache (1 min), with room to spare.
DEFAULT_RETIRED_FOR_S = 2 * (ACCESS_TOKEN_TTL_S + 300 + 60)


def rotate(
    secret_id: str, public_secret_id: str | None = None, retired_for_s: int = DEFAULT_RETIRED_FOR_S
) -> KeySet:
    """Rotate the key set; publish its public half first, so a verifier knows the new key before any
    token it signs exists (verifiers read only the public keys secret)."""
    client = boto3.client("secretsmanager")
    current = KeySet.from_json(client.get_secret_value(SecretId=secret_id)["SecretString"])
    updated = current.rotated().pruned(retired_for_s)
    if public_secret_id is not None:
        client.put_secret_value(SecretId=public_secret_id, SecretString=updated.public_jwks_json())
    client.put_secret_value(SecretId=secret_id, SecretString=updated.to_json())
    return updated


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m functions.auth.rotate_keys", description=__doc__)
    parser.add_argument("--secret-id", required=True, help="the signing keys secret (name or ARN)")
    parser.add_argument(
        "--public-secret-id",
        required=True,
        help="the public keys secret the authorizer verifies with (name or ARN); written first",
    )
    parser.add_argument(
        "--retired-for-s",
        type=int,
        default=DEFAULT_RETIRED_FOR_S,
        help="how long a retired key stays published (default %(default)s s)",
    )
    args = parser.parse_args(argv)
    keys = rotate(args.secret_id, args.public_secret_id, args.retired_for_s)
    retired = [k.kid for k in keys.keys if k.retired_at is not None]
    print(f"active key {keys.active_kid}; still published: {', '.join(retired) or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
