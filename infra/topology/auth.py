"""The auth domain (functions/auth): accounts, sessions, API keys, the API's authorizer and the
registration saga."""

from __future__ import annotations

from functions.shared.vocabulary import API_PREFIX, Scope
from infra.model import Auth, Domain, Function, Grant, Route, Secret, SecretKind, StateMachine
from infra.topology.tables import domain_table

AUTHORIZER = "auth_authorizer"
USAGE_KEY_SALT = "usage_key_salt"
AUTH = f"{API_PREFIX}/auth"

auth = Function(
    id="auth",
    handler="functions.auth.handler.lambda_handler",
    description="Registration, sign-in, refresh and sign-out, the caller's account and API keys, JWKS",
    memory_mb=1024,  # argon2id hashing takes 64 MiB and benefits from the CPU a larger size brings
    timeout_s=29,  # API Gateway's own limit; registration waits for its saga within it
    tables=(Grant("auth"),),
    secrets=("jwt_signing_keys",),
    state_machines=("registration",),
)

auth_authorizer = Function(
    id=AUTHORIZER,
    handler="functions.auth.authorizer.lambda_handler",
    description="The API's REQUEST authorizer: a bearer JWT or an API key -> a policy over the routes",
    memory_mb=512,
    timeout_s=10,
    tables=(Grant("auth"),),
    # Verifies tokens with the public keys, never the private ones; names each account's usage-plan key.
    secrets=("jwt_public_keys", USAGE_KEY_SALT),
)

auth_registration = Function(
    id="auth_registration",
    handler="functions.auth.registration.lambda_handler",
    description="The registration saga's steps and their compensations",
    memory_mb=256,
    timeout_s=10,
    tables=(Grant("auth"), Grant("analytics")),
    buses=("events",),
    secrets=(USAGE_KEY_SALT,),
    manages_usage_keys=True,  # each account's API key on the default usage plan, and its undo
)

ACCOUNT = Scope.ACCOUNT.value  # held by signed-in users, never by API keys

DOMAIN = Domain(
    name="auth",
    functions=(auth, auth_authorizer, auth_registration),
    routes=(
        Route("POST", f"{AUTH}/register", auth.id, Auth.PUBLIC),
        Route("POST", f"{AUTH}/login", auth.id, Auth.PUBLIC),
        Route("POST", f"{AUTH}/refresh", auth.id, Auth.PUBLIC),
        Route("POST", f"{AUTH}/logout", auth.id, Auth.PUBLIC),
        Route("GET", f"{AUTH}/me", auth.id, scope=ACCOUNT),
        Route("POST", f"{AUTH}/api-keys", auth.id, scope=ACCOUNT),
        Route("GET", f"{AUTH}/api-keys", auth.id, scope=ACCOUNT),
        Route("DELETE", f"{AUTH}/api-keys/{{key_id}}", auth.id, scope=ACCOUNT),
        Route("GET", "/.well-known/jwks.json", auth.id, Auth.PUBLIC),
    ),
    tables=(domain_table("auth", stream=True),),
    secrets=(
        Secret(
            id="jwt_signing_keys",
            description="RSA keys with ids that sign access tokens; rotated by adding a key (docs/auth.md)",
            kind=SecretKind.RSA_KEYSET,
        ),
        Secret(
            id="jwt_public_keys",
            description="The public half of jwt_signing_keys as a JWKS: what token verifiers may read",
            kind=SecretKind.PUBLIC_JWKS,
            derived_from="jwt_signing_keys",
        ),
        Secret(
            id=USAGE_KEY_SALT,
            description="Derives each account's API Gateway API key, the key its requests are metered by",
        ),
    ),
    state_machines=(
        StateMachine(
            id="registration",
            definition="infra/workflows/registration.asl.json",
            functions=(auth_registration.id,),
            timeout_s=60,
        ),
    ),
)
