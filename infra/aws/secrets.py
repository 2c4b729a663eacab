"""Secrets Manager secrets. Signing keys are generated at deploy time by a custom resource (infra/aws/keygen);
the media token keys also go into the CloudFront KeyValueStore the media function reads."""

from __future__ import annotations

from pathlib import PurePosixPath

from aws_cdk import CustomResource, Duration
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import custom_resources as cr
from constructs import Construct

from infra.aws.layer import ARCHITECTURE, EXPORT, KEYGEN_EXPORT, RUNTIME, bundled_code, keygen_layer
from infra.aws.nag import (
    BASIC_EXECUTION,
    BASIC_EXECUTION_REASON,
    acknowledge,
    acknowledge_all,
    wildcard_resource,
)
from infra.aws.stage import DEFAULT_STAGE, Stage
from infra.model import ROOT, Secret, SecretKind, Topology

RANDOM_LENGTH = 48
ROTATION_REASON = (
    "rotating a signing key invalidates every token or signed URL in flight; "
    "keys are rotated by a deliberate, documented procedure instead"
)
# e.g. the CDN's origin secret: CloudFront resolves it into its origin header at deploy.
RANDOM_ROTATION_REASON = (
    "resolved into other resources at deploy; changing it is a stack deploy, not a schedule"
)
KEYSET_ROTATION_REASON = "rotated by `python -m functions.auth.rotate_keys`; see docs/auth.md"
# The keys each kind of generated secret holds, by the custom resource type that generates them.
KEYGEN_RESOURCE_TYPES = {
    SecretKind.RSA_KEYSET: "Custom::RsaKeySetInSecret",
    SecretKind.MEDIA_TOKEN_KEYS: "Custom::MediaTokenKeysInSecret",
}
# The keygen Lambda's code: its handler and the one module defining the key set format, as the packages
# they are in the repository (nothing copied), so the handler is `infra.aws.keygen.handler.on_event`.
KEYGEN_FILES = (
    "infra/__init__.py",
    "infra/aws/__init__.py",
    "infra/aws/keygen/__init__.py",
    "infra/aws/keygen/handler.py",
    "functions/__init__.py",
    "functions/shared/__init__.py",
    "functions/shared/keyset.py",
    "functions/shared/media_token.py",
)
KEYGEN_HANDLER = "infra.aws.keygen.handler.on_event"
MEDIA_KEYS_REVISION_CONTEXT = "mediaKeysRevision"


def only_files(files: tuple[str, ...]) -> list[str]:
    """Asset excludes keeping exactly `files` (relative to the asset root) and the folders they are in."""
    folders = sorted(
        {str(parent) for f in files for parent in PurePosixPath(f).parents if str(parent) != "."}
    )
    return ["*", ".*", *(f"!{folder}" for folder in folders), *(f"!{f}" for f in files)]


class Secrets(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        topology: Topology,
        layer: lambda_.ILayerVersion | None,
        stage: Stage | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.stage = stage or Stage(DEFAULT_STAGE)
        self.secrets: dict[str, secretsmanager.Secret] = {}
        self._keygen: cr.Provider | None = None
        self._layer = layer
        self.keygens: dict[str, CustomResource] = {}  # generated secret id -> its keygen resource
        # Where the media CloudFront Function reads the token keys: filled by the keygen from the secret.
        self.media_key_store: cloudfront.KeyValueStore | None = None
        if topology.media is not None:
            self.media_key_store = cloudfront.KeyValueStore(
                self,
                "MediaTokenKeyStore",
                comment="Playback token HMAC keys by id (from the media token secret)",
            )
        for secret in topology.secrets:
            resource = self.secrets[secret.id] = self._secret(secret)
            rotation = {
                SecretKind.RSA_KEYSET: KEYSET_ROTATION_REASON,
                SecretKind.PUBLIC_JWKS: KEYSET_ROTATION_REASON,
                SecretKind.RANDOM: RANDOM_ROTATION_REASON,
            }.get(secret.kind, ROTATION_REASON)
            acknowledge(resource, "AwsSolutions-SMG4", rotation)
        for secret in topology.secrets:
            if secret.kind in KEYGEN_RESOURCE_TYPES:
                store = (
                    self.media_key_store
                    if topology.media is not None and secret.id == topology.media.signing_secret
                    else None
                )
                public = topology.public_keys_of(secret.id)
                self.keygens[secret.id] = self._generated_key(
                    secret, self.secrets[secret.id], store, self.secrets[public.id] if public else None
                )

    def _secret(self, secret: Secret) -> secretsmanager.Secret:
        # RSA secrets start with a random placeholder; the keygen resource replaces it with keys once.
        return secretsmanager.Secret(
            self,
            f"Secret-{secret.id}",
            secret_name=self.stage.secret_name(secret.id),
            description=secret.description,
            generate_secret_string=secretsmanager.SecretStringGenerator(
                password_length=RANDOM_LENGTH, exclude_punctuation=True
            ),
            removal_policy=self.stage.data_removal,
        )

    def _generated_key(
        self,
        secret: Secret,
        resource: secretsmanager.Secret,
        store: cloudfront.KeyValueStore | None,
        public: secretsmanager.Secret | None,
    ) -> CustomResource:
        provider = self._keygen_provider()
        resource.grant_read(provider.on_event_handler)
        resource.grant_write(provider.on_event_handler)
        properties = {"SecretArn": resource.secret_arn, "Kind": secret.kind.value}
        if store is not None:
            properties["KeyValueStoreArn"] = store.key_value_store_arn
            # Changing it re-runs the keygen, which syncs the store with the secret (key rotation, deploy.md).
            properties["Revision"] = str(self.node.try_get_context(MEDIA_KEYS_REVISION_CONTEXT) or "1")
            provider.on_event_handler.add_to_role_policy(
                iam.PolicyStatement(
                    actions=[
                        "cloudfront-keyvaluestore:DescribeKeyValueStore",
                        "cloudfront-keyvaluestore:PutKey",
                        "cloudfront-keyvaluestore:ListKeys",
                        "cloudfront-keyvaluestore:DeleteKey",
                    ],
                    resources=[store.key_value_store_arn],
                )
            )
        if public is not None:  # the key set's public half, for verifiers that must not read the private
            public.grant_write(provider.on_event_handler)
            properties["PublicSecretArn"] = public.secret_arn
        return CustomResource(
            self,
            f"Keygen-{secret.id}",
            service_token=provider.service_token,
            resource_type=KEYGEN_RESOURCE_TYPES[secret.kind],
            properties=properties,
        )

    def _keygen_provider(self) -> cr.Provider:
        if self._keygen is None:
            handler = lambda_.Function(
                self,
                "KeygenHandler",
                description="Generates signing keys into a secret once (and media token keys into the CDN's "
                "key value store); returns only key ids",
                runtime=RUNTIME,
                architecture=ARCHITECTURE,
                handler=KEYGEN_HANDLER,
                # Always this repository's files, whatever source root the functions come from.
                code=self._keygen_code(),
                # cryptography comes from the shared layer; awscrt (SigV4A for the key value store) from its own
                layers=[self._layer, keygen_layer(self, "KeygenLayer")] if self._layer is not None else [],
                timeout=Duration.seconds(60),
                memory_size=256,
                log_group=logs.LogGroup(self, "KeygenLogs", retention=logs.RetentionDays.ONE_MONTH),
            )
            self._keygen = cr.Provider(
                self,
                "KeygenProvider",
                on_event_handler=handler,
                log_group=logs.LogGroup(self, "KeygenProviderLogs", retention=logs.RetentionDays.ONE_MONTH),
            )
            acknowledge_all(
                self,
                {
                    BASIC_EXECUTION: BASIC_EXECUTION_REASON,
                    "AwsSolutions-L1": "Python 3.12 matches the shared layer's wheels; the provider framework "
                    "runtime is chosen by aws-cdk-lib",
                    wildcard_resource(
                        handler.function_arn, ":*", self
                    ): "the provider framework may invoke any version of its own onEvent handler",
                },
            )
        return self._keygen

    def _keygen_code(self) -> lambda_.Code:
        if self._layer is None:  # bundled packaging: both layers' contents in the function's own zip
            return bundled_code(ROOT, KEYGEN_FILES, [EXPORT, KEYGEN_EXPORT], only_files(KEYGEN_FILES))
        return lambda_.Code.from_asset(str(ROOT), exclude=only_files(KEYGEN_FILES))
