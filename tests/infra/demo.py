"""A small topology that uses every part of the model the real one does not use yet.

TOPOLOGY grows as domains land; this one keeps authorizers, triggers, rules, workflows and container
images under test today. Its files live in a temporary source root made by `write_source_root`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from infra.model import (
    Access,
    Api,
    Auth,
    Authorizer,
    Bucket,
    Cors,
    EventBus,
    EventRule,
    Function,
    Grant,
    Index,
    Media,
    Packaging,
    Queue,
    QueueTrigger,
    Route,
    S3ToQueue,
    ScheduleTrigger,
    Secret,
    SecretKind,
    StateMachine,
    StreamTrigger,
    Table,
    Topology,
)

ASL: dict[str, Any] = {
    "StartAt": "Probe",
    "States": {
        "Probe": {"Type": "Task", "Resource": "${fn_worker}", "Next": "Record"},
        "Record": {
            "Type": "Task",
            "Resource": "arn:aws:states:::dynamodb:putItem",
            "Parameters": {"TableName": "${table_items}", "Item": {"pk": {"S.$": "$.id"}}},
            "Next": "Announce",
        },
        "Announce": {
            "Type": "Task",
            "Resource": "arn:aws:states:::events:putEvents",
            "Parameters": {
                "Entries": [
                    {
                        "EventBusName": "${bus_events}",
                        "Source": "demo",
                        "DetailType": "done",
                        "Detail": {"bucket": "${bucket_media}"},
                    }
                ]
            },
            "End": True,
        },
    },
}


def write_source_root(root: Path) -> Path:
    """A repository-shaped folder: the functions package, the transcode image's Dockerfile, a built dashboard."""
    (root / "functions" / "transcode").mkdir(parents=True)
    (root / "functions" / "__init__.py").write_text("")
    (root / "functions" / "transcode" / "Dockerfile").write_text("FROM public.ecr.aws/lambda/python:3.12\n")
    (root / "tests").mkdir()
    (root / "tests" / "test_x.py").write_text("")
    (root / "workflow.asl.json").write_text(json.dumps(ASL))
    (root / "web" / "dist").mkdir(parents=True)  # the dashboard as `make web` builds it
    (root / "web" / "dist" / "index.html").write_text("<!doctype html><title>demo</title>")
    return root


def demo_topology(root: Path, definition: str = "workflow.asl.json") -> Topology:
    api = "/api/v1"
    return Topology(
        name="demo",
        functions=(
            Function(
                id="authorizer",
                handler="functions.auth.authorizer.lambda_handler",
                description="authorizer",
                tables=(Grant("items", Access.READ),),
                secrets=("token_key", "auth_keys"),
            ),
            Function(
                id="items",
                handler="functions.items.handler.lambda_handler",
                description="items API",
                memory_mb=1024,
                timeout_s=29,
                reserved_concurrency=5,
                tables=(Grant("items", Access.READ_WRITE),),
                buckets=(Grant("uploads", Access.WRITE),),
                queues=(Grant("jobs", Access.WRITE),),
                buses=("events",),
                state_machines=("publish",),
                environment={"FEATURE_FLAG": "on"},
            ),
            Function(
                id="worker",
                handler="functions.items.worker.lambda_handler",
                description="queue worker",
                queues=(Grant("jobs", Access.READ),),
                buckets=(Grant("media", Access.READ),),
            ),
            Function(
                id="projector",
                handler="functions.items.projector.lambda_handler",
                description="stream projector",
                tables=(Grant("items", Access.READ),),
            ),
            Function(
                id="transcode",
                handler="functions.transcode.handler.lambda_handler",
                description="ffmpeg image",
                memory_mb=3008,
                timeout_s=900,
                packaging=Packaging.IMAGE,
                buckets=(Grant("uploads", Access.READ), Grant("media", Access.READ_WRITE)),
            ),
        ),
        api=Api(
            name="demo-api",
            routes=(
                Route("GET", f"{api}/health", "items", Auth.PUBLIC),
                Route("POST", f"{api}/items", "items"),
                Route("GET", f"{api}/items/{{id}}", "items"),
                Route("DELETE", f"{api}/items/{{id}}", "items"),
                Route("GET", "/.well-known/jwks.json", "items", Auth.PUBLIC),
            ),
            authorizer=Authorizer("authorizer", identity_headers=("Authorization",), ttl_s=120),
            prefixes=("/api/", "/.well-known/"),
            stage="v1",
            throttle_rate=7,
            throttle_burst=11,
        ),
        tables=(
            Table(
                "items", indexes=(Index("gsi1", "gsi1pk", "gsi1sk"),), stream=True, ttl_attribute="expires_at"
            ),
            Table("plain", sort_key=None),
        ),
        buckets=(
            Bucket("uploads", cors=Cors(allowed_methods=("PUT", "GET")), abort_incomplete_multipart_days=2),
            Bucket("media"),
            Bucket("site", website=True),
        ),
        queues=(Queue("jobs", visibility_timeout_s=120, max_receive_count=5, retention_days=2),),
        buses=(EventBus("events"),),
        secrets=(
            Secret("token_key", "signs tokens"),
            Secret("media_key", "signs playback tokens", kind=SecretKind.MEDIA_TOKEN_KEYS),
            Secret("auth_keys", "signs access tokens", kind=SecretKind.RSA_KEYSET),
        ),
        state_machines=(
            StateMachine(
                "publish",
                definition=str(root / definition),
                functions=("worker",),
                tables=("items",),
                buckets=("media",),
                buses=("events",),
                timeout_s=600,
            ),
        ),
        s3_to_queue=(S3ToQueue("uploads", "jobs", prefix="originals/", suffix=".mp4"),),
        queue_triggers=(QueueTrigger("jobs", "worker", batch_size=4, max_batching_window_s=3),),
        stream_triggers=(StreamTrigger("items", "projector", batch_size=50, retry_attempts=2),),
        rules=(
            EventRule(
                "on_done",
                bus="events",
                pattern={"source": ["demo"], "detail-type": ["done"]},
                function="projector",
            ),
            EventRule(
                "on_uploaded", bus="events", pattern={"detail-type": ["uploaded"]}, state_machine="publish"
            ),
        ),
        schedules=(ScheduleTrigger("nightly_sweep", "projector", every_minutes=15),),
        media=Media(
            bucket="media", signing_secret="media_key", signers=("items",), invalidators=("projector",)
        ),
    )
