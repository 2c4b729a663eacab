"""API usage analytics in AWS: the stage logs every request to a Firehose stream that writes the
date-partitioned objects to the usage bucket, whose notifications queue them for the one aggregator."""

from __future__ import annotations

import json

import pytest
from aws_cdk.assertions import Match

from functions.analytics.usage.models import ACCESS_LOG_FORMAT, AccessRecord
from infra.topology import TOPOLOGY
from tests.infra.conftest import Synthesized
from tests.infra.helpers import resources

pytestmark = pytest.mark.infra


def test_the_stage_logs_every_request_to_a_firehose_stream(skyreel: Synthesized) -> None:
    [stream] = resources(skyreel.template, "AWS::KinesisFirehose::DeliveryStream").values()
    properties = stream["Properties"]
    name = properties["DeliveryStreamName"]
    assert name.startswith("amazon-apigateway-")  # API Gateway refuses any other name
    destination = properties["ExtendedS3DestinationConfiguration"]
    [access_log] = TOPOLOGY.access_logs
    assert destination["Prefix"] == f"{access_log.prefix}dt=!{{timestamp:yyyy-MM-dd}}/"
    assert destination["ErrorOutputPrefix"].startswith("requests-errors/")
    assert destination["BufferingHints"] == {"IntervalInSeconds": 60, "SizeInMBs": 5}
    assert properties["DeliveryStreamEncryptionConfigurationInput"] == {"KeyType": "AWS_OWNED_CMK"}
    skyreel.template.has_resource_properties(
        "AWS::ApiGateway::Stage",
        {
            "AccessLogSetting": {
                "DestinationArn": Match.any_value(),
                "Format": json.dumps(ACCESS_LOG_FORMAT, separators=(",", ":")),
            }
        },
    )


def test_the_log_format_is_what_the_aggregator_reads() -> None:
    # Every field the record model requires is in the stage's format, under the same name.
    required = {f.alias for f in AccessRecord.model_fields.values() if f.is_required()}
    assert required <= set(ACCESS_LOG_FORMAT)
    assert all(value.startswith("$context.") for value in ACCESS_LOG_FORMAT.values())


def test_delivered_objects_queue_for_the_single_writer(skyreel: Synthesized) -> None:
    aggregator = TOPOLOGY.function("analytics_usage_aggregator")
    assert aggregator.reserved_concurrency == 1
    [function] = [
        f
        for f in resources(skyreel.template, "AWS::Lambda::Function").values()
        if f["Properties"].get("Handler") == aggregator.handler
    ]
    assert function["Properties"]["ReservedConcurrentExecutions"] == 1
    skyreel.template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {"FunctionResponseTypes": ["ReportBatchItemFailures"], "BatchSize": 10},
    )
