"""Secrets Manager secrets. RSA keys are generated at deploy time by a custom resource (infra/aws/keygen)."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import CustomResource, Duration, RemovalPolicy
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
from infra.model import Secret, SecretKind, Topology

KEYGEN_DIR = Path(__file__).parent / "keygen"
RANDOM_LENGTH = 48
ROTATION_REASON = (
    "rotating a signing key invalidates every token or signed URL in flight; "
    "keys are rotated by a deliberate, documented procedure instead"
)


class Secrets(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, topology: Topology, layer: lambda_.ILayerVersion
    ) -> None:
        super().__init__(scope, construct_id)
        self.secrets: dict[str, secretsmanager.Secret] = {}
        self.public_keys: dict[str, str] = {}  # RSA secret id -> its public key PEM (a token)
        self._keygen: cr.Provider | None = None
        self._layer = layer
        for secret in topology.secrets:
            self.secrets[secret.id] = self._secret(secret)
            acknowledge(self.secrets[secret.id], "AwsSolutions-SMG4", ROTATION_REASON)
            if secret.kind is SecretKind.RSA_2048:
                self.public_keys[secret.id] = self._generated_key(secret, self.secrets[secret.id])

    def _secret(self, secret: Secret) -> secretsmanager.Secret:
        # RSA secrets start with a random placeholder; the keygen resource replaces it with the key once.
        return secretsmanager.Secret(
            self,
            f"Secret-{secret.id}",
            description=secret.description,
            generate_secret_string=secretsmanager.SecretStringGenerator(
                password_length=RANDOM_LENGTH, exclude_punctuation=True
            ),
            removal_policy=RemovalPolicy.RETAIN,
        )

    def _generated_key(self, secret: Secret, resource: secretsmanager.Secret) -> str:
        provider = self._keygen_provider()
        resource.grant_read(provider.on_event_handler)
        resource.grant_write(provider.on_event_handler)
        key = CustomResource(
            self,
            f"Keygen-{secret.id}",
            service_token=provider.service_token,
            resource_type="Custom::RsaKeyInSecret",
            properties={"SecretArn": resource.secret_arn},
        )
        return key.get_att_string("PublicKeyPem")

    def _keygen_provider(self) -> cr.Provider:
        if self._keygen is None:
            handler = lambda_.Function(
                self,
                "KeygenHandler",
                description="Generates an RSA-2048 key into a secret once; returns the public key",
                runtime=RUNTIME,
                architecture=ARCHITECTURE,
                handler="handler.on_event",
                code=lambda_.Code.from_asset(str(KEYGEN_DIR), exclude=["__pycache__"]),
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
