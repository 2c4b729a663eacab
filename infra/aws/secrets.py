"""Secrets Manager secrets. RSA keys are generated at deploy time by a custom resource (infra/aws/keygen)."""

from __future__ import annotations

from pathlib import PurePosixPath

from aws_cdk import CustomResource, Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import custom_resources as cr
from constructs import Construct

from infra.aws.layer import ARCHITECTURE, RUNTIME
from infra.aws.nag import (
    BASIC_EXECUTION,
    BASIC_EXECUTION_REASON,
    acknowledge,
    acknowledge_all,
    wildcard_resource,
)
from infra.model import ROOT, Secret, SecretKind, Topology

RANDOM_LENGTH = 48
ROTATION_REASON = (
    "rotating a signing key invalidates every token or signed URL in flight; "
    "keys are rotated by a deliberate, documented procedure instead"
)
KEYSET_ROTATION_REASON = "rotated by `python -m functions.auth.rotate_keys`; see docs/auth.md"
# The keys each kind of generated secret holds, by the custom resource type that generates them.
KEYGEN_RESOURCE_TYPES = {
    SecretKind.RSA_2048: "Custom::RsaKeyInSecret",
    SecretKind.RSA_KEYSET: "Custom::RsaKeySetInSecret",
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
)
KEYGEN_HANDLER = "infra.aws.keygen.handler.on_event"


def only_files(files: tuple[str, ...]) -> list[str]:
    """Asset excludes keeping exactly `files` (relative to the asset root) and the folders they are in."""
    folders = sorted(
        {str(parent) for f in files for parent in PurePosixPath(f).parents if str(parent) != "."}
    )
    return ["*", ".*", *(f"!{folder}" for folder in folders), *(f"!{f}" for f in files)]


class Secrets(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, topology: Topology, layer: lambda_.ILayerVersion
    ) -> None:
        super().__init__(scope, construct_id)
        self.secrets: dict[str, secretsmanager.Secret] = {}
        self.public_keys: dict[str, str] = {}  # RSA secret id -> its public key PEM (a token)
        self._keygen: cr.Provider | None = None
        self._layer = layer
        self.keygens: dict[str, CustomResource] = {}  # generated secret id -> its keygen resource
        for secret in topology.secrets:
            resource = self.secrets[secret.id] = self._secret(secret)
            rotation = (
                KEYSET_ROTATION_REASON
                if secret.kind in (SecretKind.RSA_KEYSET, SecretKind.PUBLIC_JWKS)
                else ROTATION_REASON
            )
            acknowledge(resource, "AwsSolutions-SMG4", rotation)
        for secret in topology.secrets:
            if secret.kind in KEYGEN_RESOURCE_TYPES:
                public = topology.public_keys_of(secret.id)
                self.keygens[secret.id] = self._generated_key(
                    secret, self.secrets[secret.id], self.secrets[public.id] if public else None
                )
            if secret.kind is SecretKind.RSA_2048:
                self.public_keys[secret.id] = self.keygens[secret.id].get_att_string("PublicKeyPem")
        # The media key's public half as CloudFront knows it. Made here, before the functions, because
        # signers get its id (MEDIA_KEY_PAIR_ID) and the CDN, built last, trusts it.
        self.media_public_key: cloudfront.CfnPublicKey | None = None
        if topology.media is not None:
            self.media_public_key = self._media_public_key(topology.media.signing_secret)

    def _media_public_key(self, secret_id: str) -> cloudfront.CfnPublicKey:
        if secret_id not in self.public_keys:
            raise ValueError(f"media signing secret {secret_id} must be a {SecretKind.RSA_2048.value} secret")
        name = f"{Stack.of(self).stack_name}-media-signing-key"
        return cloudfront.CfnPublicKey(
            self,
            "MediaPublicKey",
            public_key_config=cloudfront.CfnPublicKey.PublicKeyConfigProperty(
                caller_reference=name,
                name=name,
                encoded_key=self.public_keys[secret_id],
                comment="Verifies signed media URLs; the private key lives in Secrets Manager",
            ),
        )

    def _secret(self, secret: Secret) -> secretsmanager.Secret:
        # RSA secrets start with a random placeholder; the keygen resource replaces it with keys once.
        return secretsmanager.Secret(
            self,
            f"Secret-{secret.id}",
            description=secret.description,
            generate_secret_string=secretsmanager.SecretStringGenerator(
                password_length=RANDOM_LENGTH, exclude_punctuation=True
            ),
            removal_policy=RemovalPolicy.RETAIN,
        )

    def _generated_key(
        self, secret: Secret, resource: secretsmanager.Secret, public: secretsmanager.Secret | None
    ) -> CustomResource:
        provider = self._keygen_provider()
        resource.grant_read(provider.on_event_handler)
        resource.grant_write(provider.on_event_handler)
        properties = {"SecretArn": resource.secret_arn, "Kind": secret.kind.value}
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
                description="Generates RSA signing keys into a secret once; returns only public data",
                runtime=RUNTIME,
                architecture=ARCHITECTURE,
                handler=KEYGEN_HANDLER,
                # Always this repository's files, whatever source root the functions come from.
                code=lambda_.Code.from_asset(str(ROOT), exclude=only_files(KEYGEN_FILES)),
                layers=[self._layer],  # cryptography comes from the shared layer
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
