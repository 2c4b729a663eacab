"""Give every existing account its usage-plan key:
`python -m functions.auth.usage_backfill --table TABLE --salt-secret-id ID --plans '{"free": "NAME"}'`.

The API meters callers by the key the authorizer names (`usageIdentifierKey`, key source AUTHORIZER), and
API Gateway refuses a request whose key is on no usage plan. The registration saga makes the key of every
new account; accounts registered before usage plans existed have none. Run this once after the deploy
that adds usage plans (docs/deploy.md), and again whenever in doubt: every step is idempotent. It runs
against whatever AWS_ENDPOINT_URL points at; the local cloud runs the same code on every start.
"""

from __future__ import annotations

import argparse
import json
import sys

import boto3

from functions.auth.dal import UserTable
from functions.auth.logic import backfill_usage_keys
from functions.auth.usage_plans import UsageKeys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m functions.auth.usage_backfill", description=__doc__)
    parser.add_argument("--table", required=True, help="the auth table's name (stack output)")
    parser.add_argument("--salt-secret-id", required=True, help="the usage_key_salt secret (name or ARN)")
    parser.add_argument(
        "--plans",
        required=True,
        help='usage plan names by plan id, the default first: \'{"free": "<stack>-free"}\'',
    )
    args = parser.parse_args(argv)
    salt = boto3.client("secretsmanager").get_secret_value(SecretId=args.salt_secret_id)["SecretString"]
    dynamodb, apigateway = boto3.client("dynamodb"), boto3.client("apigateway")
    keys = UsageKeys(json.loads(args.plans), lambda: salt, lambda: apigateway)
    checked = backfill_usage_keys(UserTable(args.table, lambda: dynamodb), keys)
    print(f"usage-plan keys checked for {checked} accounts")
    return 0


if __name__ == "__main__":
    sys.exit(main())
