"""The REST API: one resource tree from `api.routes`, Lambda proxy integrations, the REQUEST authorizer."""

from __future__ import annotations

import json

from aws_cdk import Duration, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesisfirehose as firehose
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from functions.analytics.usage.models import ACCESS_LOG_FORMAT
from infra.aws.nag import acknowledge, acknowledge_all, wildcard_resource
from infra.aws.names import usage_plan_name
from infra.model import (
    AccessLog,
    Auth,
    Authorizer,
    GatewayResponse,
    Route,
    Topology,
    UsagePlan,
    method_not_allowed_body,
)

PUSH_TO_LOGS = (
    "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
    "AmazonAPIGatewayPushToCloudWatchLogs]"
)


class RestApi(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        topology: Topology,
        functions: dict[str, lambda_.Function],
        buckets: dict[str, s3.Bucket] | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self._buckets = buckets or {}
        self.stage_name = topology.api.stage
        self._functions = functions
        self._integrations: dict[str, apigw.LambdaIntegration] = {}
        self.api = apigw.RestApi(
            self,
            "Api",
            # Per stack: API Gateway's metrics are keyed by this name, so dev and prod must not share it.
            rest_api_name=f"{Stack.of(self).stack_name}-{topology.api.name}",
            description=f"{topology.name} API behind CloudFront ({' '.join(topology.api.prefixes)})",
            # CloudFront is already in front; an edge-optimized endpoint would add a second distribution.
            endpoint_types=[apigw.EndpointType.REGIONAL],
            # Usage plans meter by the key the authorizer names (usageIdentifierKey), never by a header a
            # client sends: every signed-in caller is metered, and a caller cannot pick another's key.
            api_key_source_type=apigw.ApiKeySourceType.AUTHORIZER if topology.api.usage_plans else None,
            cloud_watch_role=True,
            deploy_options=self._stage_options(topology),
        )
        acknowledge(self.api, PUSH_TO_LOGS, "the AWS-managed role API Gateway needs to write execution logs")
        self._authorizer_model = topology.api.authorizer
        self._metered = bool(topology.api.usage_plans)
        self._authorizer: apigw.RequestAuthorizer | None = None
        for route in topology.api.routes:
            self._add_route(route)
        for path, methods in topology.api.methods_by_path().items():
            self._refuse_other_methods(path, methods)
        for response in topology.api.gateway_responses:
            self._add_gateway_response(response)
        self.usage_plans = {plan.id: self._usage_plan(topology, plan) for plan in topology.api.usage_plans}
        acknowledge_all(
            self.api,
            {
                "AwsSolutions-APIG3": "WAF is an account-level cost decision; stage throttling bounds abuse and "
                "viewers arrive through CloudFront",
                "AwsSolutions-APIG2": "request bodies are validated by the handlers' pydantic models, which "
                "return the API's own 422 error shape",
                "AwsSolutions-COG4": "protected routes use the topology's Lambda REQUEST authorizer (JWT or "
                "API key), not Cognito; public routes are public by declaration",
            },
        )

    def _access_log_stream(self, access_log: AccessLog) -> firehose.CfnDeliveryStream:
        """The topology's AccessLog: a Firehose stream (its name must start with `amazon-apigateway-`) that
        buffers the stage's records and writes them to the bucket under `<prefix>dt=YYYY-MM-DD/`."""
        bucket = self._buckets[access_log.bucket]
        role = iam.Role(self, "AccessLogDelivery", assumed_by=iam.ServicePrincipal("firehose.amazonaws.com"))
        errors = f"{access_log.prefix.rstrip('/')}-errors/"
        # What Firehose needs to deliver to S3 (its documented policy), on this bucket's two prefixes only.
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"],
                resources=[bucket.bucket_arn],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:AbortMultipartUpload", "s3:GetObject", "s3:PutObject"],
                resources=[
                    bucket.arn_for_objects(f"{access_log.prefix}*"),
                    bucket.arn_for_objects(f"{errors}*"),
                ],
            )
        )
        reason = (
            "Firehose writes objects whose names it makes (date partition, stream version, random suffix) "
            "under the access log's prefixes of the one bucket"
        )
        acknowledge_all(
            role,
            {
                wildcard_resource(bucket.bucket_arn, f"/{access_log.prefix}*", role): reason,
                wildcard_resource(bucket.bucket_arn, f"/{errors}*", role): reason,
            },
        )
        day = "dt=!{timestamp:yyyy-MM-dd}/"
        return firehose.CfnDeliveryStream(
            self,
            "AccessLogStream",
            delivery_stream_name=f"amazon-apigateway-{Stack.of(self).stack_name}-{access_log.id}"[:64],
            delivery_stream_type="DirectPut",
            delivery_stream_encryption_configuration_input=firehose.CfnDeliveryStream.DeliveryStreamEncryptionConfigurationInputProperty(
                key_type="AWS_OWNED_CMK"
            ),
            extended_s3_destination_configuration=firehose.CfnDeliveryStream.ExtendedS3DestinationConfigurationProperty(
                bucket_arn=bucket.bucket_arn,
                role_arn=role.role_arn,
                prefix=f"{access_log.prefix}{day}",
                error_output_prefix=f"{errors}!{{firehose:error-output-type}}/{day}",
                buffering_hints=firehose.CfnDeliveryStream.BufferingHintsProperty(
                    interval_in_seconds=access_log.buffer_interval_s, size_in_m_bs=access_log.buffer_mb
                ),
                compression_format="UNCOMPRESSED",
            ),
        )

    def _access_log_destination(
        self, topology: Topology
    ) -> tuple[apigw.IAccessLogDestination, apigw.AccessLogFormat]:
        """Where the stage logs each request: the topology's AccessLog (Firehose to S3, the usage
        analytics' source, in the format both back ends write), else a log group."""
        for access_log in topology.access_logs:
            stream = self._access_log_stream(access_log)
            fmt = apigw.AccessLogFormat.custom(json.dumps(ACCESS_LOG_FORMAT, separators=(",", ":")))
            return apigw.FirehoseLogDestination(stream), fmt
        access_logs = logs.LogGroup(self, "AccessLogs", retention=logs.RetentionDays.ONE_MONTH)
        return apigw.LogGroupLogDestination(access_logs), apigw.AccessLogFormat.json_with_standard_fields(
            caller=False,
            http_method=True,
            ip=True,
            protocol=True,
            request_time=True,
            resource_path=True,
            response_length=True,
            status=True,
            user=True,
        )

    def _stage_options(self, topology: Topology) -> apigw.StageOptions:
        destination, access_log_format = self._access_log_destination(topology)
        return apigw.StageOptions(
            stage_name=self.stage_name,
            throttling_rate_limit=topology.api.throttle_rate,
            throttling_burst_limit=topology.api.throttle_burst,
            tracing_enabled=True,
            metrics_enabled=True,
            logging_level=apigw.MethodLoggingLevel.ERROR,
            access_log_destination=destination,
            access_log_format=access_log_format,
        )

    def _shared_authorizer(self) -> apigw.RequestAuthorizer:
        """Created on the first protected route: an authorizer attached to no method fails synthesis."""
        if self._authorizer is None:
            if self._authorizer_model is None:
                raise ValueError("protected routes need an API authorizer")
            self._authorizer = self._request_authorizer(self._authorizer_model)
        return self._authorizer

    def _request_authorizer(self, authorizer: Authorizer) -> apigw.RequestAuthorizer:
        # API Gateway caches only by identity sources; without any it must not cache at all.
        ttl = authorizer.ttl_s if authorizer.identity_headers else 0
        return apigw.RequestAuthorizer(
            self,
            "Authorizer",
            handler=self._functions[authorizer.function],
            identity_sources=[apigw.IdentitySource.header(h) for h in authorizer.identity_headers],
            results_cache_ttl=Duration.seconds(ttl),
        )

    def _add_route(self, route: Route) -> None:
        resource = self.api.root.resource_for_path(route.path)
        protected = route.auth is not Auth.PUBLIC  # an OPTIONAL route runs the authorizer too
        method = resource.add_method(
            route.method,
            self._integration(route.function),
            authorizer=self._shared_authorizer() if protected else None,
            authorization_type=apigw.AuthorizationType.CUSTOM if protected else apigw.AuthorizationType.NONE,
            # A usage plan meters only methods that require a key; the authorizer supplies it. An anonymous
            # caller of an OPTIONAL route has none, so those are not metered.
            api_key_required=route.auth is Auth.PROTECTED and self._metered,
        )
        if not protected:
            acknowledge(method, "AwsSolutions-APIG4", f"{route.method} {route.path} is declared Auth.PUBLIC")

    def _refuse_other_methods(self, path: str, allowed: tuple[str, ...]) -> None:
        """ANY on a declared path catches the methods it does not serve (API Gateway picks the explicit
        methods first) and answers 405 with `Allow` in the API's error shape, as the local gateway does;
        without it API Gateway would say MISSING_AUTHENTICATION_TOKEN (our 404)."""
        allow = ", ".join(allowed)
        method = self.api.root.resource_for_path(path).add_method(
            "ANY",
            apigw.MockIntegration(
                request_templates={"application/json": '{"statusCode": 405}'},
                integration_responses=[
                    apigw.IntegrationResponse(  # the default response: every request the mock gets
                        status_code="405",
                        response_templates={"application/json": method_not_allowed_body(allowed)},
                        response_parameters={
                            "method.response.header.Allow": f"'{allow}'",
                            "method.response.header.Content-Type": "'application/json'",
                        },
                    )
                ],
            ),
            authorization_type=apigw.AuthorizationType.NONE,
            method_responses=[
                apigw.MethodResponse(
                    status_code="405",
                    response_parameters={
                        "method.response.header.Allow": True,
                        "method.response.header.Content-Type": True,
                    },
                )
            ],
        )
        acknowledge_all(
            method,
            {
                "AwsSolutions-APIG4": f"ANY {path} only answers 405 (Allow: {allow}) from a mock; no code runs",
                "AwsSolutions-COG4": f"ANY {path} only answers 405 from a mock; no code runs",
            },
        )

    def _add_gateway_response(self, response: GatewayResponse) -> None:
        # What API Gateway answers by itself (no function ran) still speaks the API's error shape.
        self.api.add_gateway_response(
            f"Response-{response.type}",
            type=apigw.ResponseType.of(response.type),
            status_code=str(response.status),
            templates={"application/json": response.body()},
            # A throttled caller's bucket refills within a second at any plan's rate.
            response_headers={"Retry-After": "'1'"} if response.type == "THROTTLED" else None,
        )

    def _usage_plan(self, topology: Topology, plan: UsagePlan) -> apigw.UsagePlan:
        """Per-caller throttle and quota. Its keys (one per account) are added by the registration saga."""
        return self.api.add_usage_plan(
            f"UsagePlan-{plan.id}",
            name=usage_plan_name(Stack.of(self).stack_name, plan.id),
            description=f"{topology.name} {plan.id} plan: per-account throttle and daily quota",
            throttle=apigw.ThrottleSettings(rate_limit=plan.rate_per_s, burst_limit=plan.burst),
            quota=(
                apigw.QuotaSettings(limit=plan.quota_per_day, period=apigw.Period.DAY)
                if plan.quota_per_day is not None
                else None
            ),
            api_stages=[apigw.UsagePlanPerApiStage(api=self.api, stage=self.api.deployment_stage)],
        )

    def _integration(self, function_id: str) -> apigw.LambdaIntegration:
        if function_id not in self._integrations:
            # No test-invoke permission: one Lambda permission per method is enough.
            self._integrations[function_id] = apigw.LambdaIntegration(
                self._functions[function_id], proxy=True, allow_test_invoke=False
            )
        return self._integrations[function_id]
