"""The sample events in events/ are the shapes AWS really sends: each one is read by the powertools data
class a handler would use, with assertions on the fields handlers depend on."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

import pytest
from aws_lambda_powertools.utilities.data_classes import (
    APIGatewayProxyEvent,
    DynamoDBStreamEvent,
    EventBridgeEvent,
    S3Event,
    SQSEvent,
)
from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
    APIGatewayAuthorizerRequestEvent,
)
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import (
    DynamoDBRecordEventName,
    StreamViewType,
)

from infra.local.gateway import ApiGateway, HttpRequest
from infra.model import Api, Auth, Route

EVENTS = Path(__file__).resolve().parents[2] / "events"
VIDEO_ID = "0b6f3a52-9c4e-4d71-8a1f-5e2d7c9b4a10"


def load(name: str) -> dict[str, Any]:
    data = json.loads((EVENTS / name).read_text())
    assert isinstance(data, dict)
    return data


def check_health(raw: dict[str, Any]) -> None:
    event = APIGatewayProxyEvent(raw)
    assert event.http_method == "GET"
    assert event.resource == event.path == "/api/v1/health"
    assert event.body is None
    assert not event.is_base64_encoded
    assert event.path_parameters == {}
    assert event.query_string_parameters == {}
    # REST v1 puts the stage in requestContext.path but not in the event's path.
    assert event.request_context.stage == "prod"
    assert event.request_context.path == "/prod/api/v1/health"
    assert event.request_context.identity.source_ip == "203.0.113.24"
    assert event.headers["user-agent"] == "curl/8.5.0"  # powertools headers are case-insensitive
    assert set(raw["headers"]) == set(raw["multiValueHeaders"])


def check_post(raw: dict[str, Any]) -> None:
    event = APIGatewayProxyEvent(raw)
    assert event.http_method == "POST"
    assert event.resource == "/api/v1/videos/{id}/views"
    assert event.path_parameters == {"id": VIDEO_ID}
    assert event.json_body == {"session_id": "s-4e1f7a2b9c", "watched_s": 42.5, "rendition": "720p"}
    assert event.headers["content-type"] == "application/json"
    # The resource template and the concrete path agree, as API Gateway guarantees.
    match = Route("POST", event.resource, "fn").regex().match(event.path)
    assert match is not None
    assert match.groupdict() == event.path_parameters
    # A protected route: the authorizer's principal and context reach the handler.
    assert event.request_context.authorizer.principal_id == "7c9e2d41-1b5a-4f63-9d8e-2a6c4b1f0e37"
    assert event.request_context.authorizer.get("scopes") == "videos:read"


def check_authorizer(raw: dict[str, Any]) -> None:
    event = APIGatewayAuthorizerRequestEvent(raw)
    assert event.get_type == "REQUEST"
    arn = event.parsed_arn
    assert (arn.region, arn.aws_account_id) == ("us-east-1", "123456789012")
    assert (arn.api_id, arn.stage) == ("a1b2c3d4e5", "prod")
    assert arn.http_method == event.http_method == "GET"
    assert arn.resource == event.path.lstrip("/")
    assert event.headers["authorization"].startswith("Bearer ey")
    assert event.path_parameters == {"id": VIDEO_ID}
    assert event.request_context.stage == "prod"


def check_s3_via_sqs(raw: dict[str, Any]) -> None:
    records = list(SQSEvent(raw).records)
    assert len(records) == 2
    keys = []
    for record in records:
        assert record.event_source_arn == "arn:aws:sqs:us-east-1:123456789012:skyreel-ingest"
        assert record.attributes.approximate_receive_count == "1"
        # The body is S3's own notification document, as a string.
        s3 = S3Event(json.loads(record.body))
        assert s3.record.event_name == "ObjectCreated:Put"
        assert s3.bucket_name == "skyreel-uploads"
        assert s3.record.s3.get_object.size > 0
        raw_key = s3.record.s3.get_object.key
        assert s3.object_key == unquote_plus(raw_key)
        keys.append((raw_key, unquote_plus(raw_key)))
    assert keys[0] == (f"originals/{VIDEO_ID}/clip.mp4",) * 2
    # S3 URL-encodes keys in notifications (space as +): handlers must unquote_plus before GetObject.
    encoded, decoded = keys[1]
    assert encoded == "originals/e4a7c1d9-2b3f-4c5e-9d8a-7f6b5e4d3c2b/Summer+trip+%284K%29.mp4"
    assert decoded == "originals/e4a7c1d9-2b3f-4c5e-9d8a-7f6b5e4d3c2b/Summer trip (4K).mp4"


def check_sqs_batch(raw: dict[str, Any]) -> None:
    records = list(SQSEvent(raw).records)
    assert [r.json_body["algorithm"] for r in records] == ["text", "fuzzy"]
    assert len({r.message_id for r in records}) == 2  # batch item failures are reported by messageId
    for record in records:
        assert record.event_source == "aws:sqs"
        assert record.queue_url == "https://sqs.us-east-1.amazonaws.com/123456789012/skyreel-search-jobs"
        correlation = record.message_attributes["correlation_id"]
        assert correlation is not None
        assert correlation.string_value == "f13a9b7c-5e2d-4c81-a6f4-0d8e3b2c1a57"
        assert {"job_id", "query", "limit"} <= set(record.json_body)


def check_stream(raw: dict[str, Any]) -> None:
    insert, modify = DynamoDBStreamEvent(raw).records
    assert insert.event_name is DynamoDBRecordEventName.INSERT
    assert modify.event_name is DynamoDBRecordEventName.MODIFY
    for record in (insert, modify):
        assert record.dynamodb is not None
        assert record.dynamodb.stream_view_type is StreamViewType.NEW_AND_OLD_IMAGES
        assert record.dynamodb.keys == {"pk": f"VIDEO#{VIDEO_ID}", "sk": "META"}
        assert record.event_source_arn is not None
        assert ":table/skyreel-videos/stream/" in record.event_source_arn
    assert insert.dynamodb is not None
    assert modify.dynamodb is not None
    assert "OldImage" not in raw["Records"][0]["dynamodb"]  # an INSERT has no old image
    assert insert.dynamodb.new_image["status"] == "awaiting_upload"
    assert modify.dynamodb.old_image["status"] == "processing"
    assert modify.dynamodb.new_image["status"] == "ready"
    assert modify.dynamodb.new_image["progress"] == Decimal(100)  # numbers come back as Decimal
    assert [r["name"] for r in modify.dynamodb.new_image["renditions"]] == ["360p", "540p", "720p"]
    assert int(modify.dynamodb.sequence_number or 0) > int(insert.dynamodb.sequence_number or 0)


def check_eventbridge(raw: dict[str, Any]) -> None:
    event = EventBridgeEvent(raw)
    assert event.source == "skyreel.videos"
    assert event.detail_type == "video.ready"
    assert event.account == "123456789012"
    assert event.region == "us-east-1"
    assert event.detail["video_id"] == VIDEO_ID
    assert event.detail["renditions"] == ["1080p", "720p", "480p", "360p"]


def check_scheduled(raw: dict[str, Any]) -> None:
    # The shape the local cloud's schedule timer sends too (tests/unit/test_local_sources.py).
    event = EventBridgeEvent(raw)
    assert event.source == "aws.events"
    assert event.detail_type == "Scheduled Event"
    assert event.detail == {}
    assert event.resources == ["arn:aws:events:us-east-1:123456789012:rule/skyreel-expire_uploads"]


def check_task_input(raw: dict[str, Any]) -> None:
    # A state machine hands a task its state as-is: plain JSON, no envelope.
    assert raw["video_id"] == VIDEO_ID
    assert raw["source"] == {
        "bucket": "skyreel-uploads",
        "key": f"originals/{VIDEO_ID}/clip.mp4",
        "etag": "9b2cf535f27731c974343645a3985328-3",
        "size_bytes": 18874368,
    }
    assert raw["chunk"]["start_s"] < raw["chunk"]["end_s"]
    assert "Records" not in raw


def check_reindex(raw: dict[str, Any]) -> None:
    """A direct invoke of the search indexer (no AWS event): what its entry reads as a rebuild."""
    from functions.search import indexer

    assert raw == {"action": indexer.REINDEX}


def check_replay(raw: dict[str, Any]) -> None:
    """A direct invoke of the analytics projector (no AWS event): what its entry reads as a replay."""
    from functions.analytics.viewing import projector

    assert raw == {"action": projector.REPLAY}


CHECKS: dict[str, Callable[[dict[str, Any]], None]] = {
    "apigw-rest-get-health.json": check_health,
    "apigw-rest-post-json.json": check_post,
    "apigw-authorizer-request.json": check_authorizer,
    "sqs-s3-object-created.json": check_s3_via_sqs,
    "sqs-batch.json": check_sqs_batch,
    "dynamodb-stream-insert-modify.json": check_stream,
    "eventbridge-video-ready.json": check_eventbridge,
    "eventbridge-scheduled.json": check_scheduled,
    "stepfunctions-task-input.json": check_task_input,
    "search-reindex.json": check_reindex,
    "analytics-replay.json": check_replay,
}


def test_every_sample_event_has_a_check() -> None:
    assert {p.name for p in EVENTS.glob("*.json")} == set(CHECKS)


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_sample_event_is_accepted(name: str) -> None:
    CHECKS[name](load(name))


def test_events_readme_lists_every_sample() -> None:
    readme = (EVENTS / "README.md").read_text()
    assert all(name in readme for name in CHECKS)


@pytest.mark.parametrize("name", ["apigw-rest-get-health.json", "apigw-rest-post-json.json"])
def test_proxy_samples_have_the_local_gateways_keys(name: str) -> None:
    """The local front door builds the proxy event in the samples' shape, so both reach handlers alike."""
    sample = load(name)
    seen: list[Any] = []

    def capture(function_id: str, event: Any) -> Any:
        seen.append(event)
        return {"statusCode": 200, "body": ""}

    route = Route(sample["httpMethod"], sample["resource"], "fn", Auth.PUBLIC)
    gateway = ApiGateway(Api(name="t", routes=(route,)), capture)
    gateway.handle(
        HttpRequest(
            sample["httpMethod"],
            sample["path"],
            list(sample["headers"].items()),
            [],
            (sample["body"] or "").encode(),
            "203.0.113.24",
            "localhost",
        )
    )
    (built,) = seen
    assert set(built) == set(sample)
    assert set(built["requestContext"]) - {"authorizer"} <= set(sample["requestContext"])
