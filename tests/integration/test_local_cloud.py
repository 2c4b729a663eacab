"""The local cloud through its real interfaces: HTTP front door, AWS endpoint, triggers, workflows."""

from __future__ import annotations

import concurrent.futures
import json
import time
import uuid
from urllib.parse import unquote_plus

import httpx
import pytest

from infra.local import stepfunctions
from infra.local.cloud import CloudAlreadyRunningError, LocalCloud, free_port
from infra.local.gateway import HttpRequest, HttpResponse, json_body
from infra.local.runtime import InvocationError, ThrottledError
from tests.integration.conftest import User, eventually, media_token, records

pytestmark = pytest.mark.integration


# --- API through the front door -------------------------------------------------------------------


def test_health_is_ok_with_a_check_per_dependency(http: httpx.Client) -> None:
    response = http.get("/api/v1/health")
    assert response.status_code == 200, response.text
    checks = response.json()["checks"]
    assert {"table:videos", "table:auth", "bucket:media", "bucket:uploads", "queue:ingest"} <= set(checks)
    assert all(c["status"] == "ok" for c in checks.values())


def test_openapi_and_docs_are_served(http: httpx.Client) -> None:
    document = http.get("/api/v1/openapi.json").json()
    assert "/api/v1/health" in document["paths"]
    docs = http.get("/api/v1/docs")
    assert docs.status_code == 200
    assert docs.headers["content-type"].startswith("text/html")


def test_unknown_route_is_a_json_404(http: httpx.Client) -> None:
    response = http.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_dashboard_is_served_at_the_root(http: httpx.Client) -> None:
    response = http.get("/")
    assert response.status_code == 200
    assert "Skyreel" in response.text


def test_a_second_cloud_in_the_same_process_is_refused_and_the_first_keeps_working(
    http: httpx.Client, cloud: LocalCloud, user: User
) -> None:
    """moto's state, MOTO_PORT and the hooks are process-wide: a second cloud would take them over (its
    Step Functions tasks would call Lambda on its port, dead once it stops)."""
    with pytest.raises(CloudAlreadyRunningError, match="process of its own"):
        LocalCloud(
            cloud.topology, port=free_port(), prewarm=False, log_sink=lambda source, line: None
        ).start()
    assert (
        http.post(
            "/api/v1/auth/register",
            json={"email": f"second-{uuid.uuid4().hex[:8]}@example.com", "password": user.password},
        ).status_code
        == 201
    )
    assert http.get("/api/v1/videos", headers=user.headers).status_code == 200


def test_proxy_event_context_and_environment_reach_the_handler(http: httpx.Client, cloud: LocalCloud) -> None:
    body = http.get("/api/test/echo/abc").json()
    assert body["params"] == {"id": "abc"}
    assert body["function_name"] == "skyreel-echo"
    assert body["records_table"] == cloud.names.table("records")
    assert 0 < body["remaining_ms"] <= 3000


def test_protected_routes_go_through_the_authorizer(http: httpx.Client, user: User) -> None:
    assert http.get("/api/test/private").status_code == 401
    assert http.get("/api/test/private", headers={"Authorization": "Bearer nope"}).status_code == 401
    response = http.get("/api/test/private", headers=user.headers)
    assert response.status_code == 200, response.text
    context = response.json()["authorizer"]
    assert context["auth_type"] == "jwt"
    assert context["principalId"] == context["user_id"]


def _straight_to_the_gateway(cloud: LocalCloud, path: str, headers: list[tuple[str, str]]) -> HttpResponse:
    """A request that skips the CDN: what calling the execute-api endpoint directly is in AWS."""
    host = cloud.url.removeprefix("http://")
    request = HttpRequest("GET", path, [("host", host), *headers], [], b"", "203.0.113.9", host)
    return cloud.gateway.handle(request)


@pytest.mark.parametrize("forged", [None, "guessed-value"])
def test_the_api_refuses_requests_that_skip_the_cdn(
    cloud: LocalCloud, user: User, forged: str | None
) -> None:
    headers = [("x-origin-verify", forged)] if forged else []
    # A public route: the function itself refuses.
    health = _straight_to_the_gateway(cloud, "/api/v1/health", headers)
    assert health.status == 403
    assert json_body(health)["error"]["code"] == "forbidden"
    # A protected route with a valid token: the authorizer refuses (API Gateway's 403, in the error shape).
    me = _straight_to_the_gateway(
        cloud, "/api/v1/auth/me", [*headers, ("authorization", user.headers["Authorization"])]
    )
    assert me.status == 403
    assert json_body(me)["error"]["code"] == "forbidden"
    # With the CDN's header, the same requests are served.
    secret = cloud.origin_secret()
    assert secret
    assert _straight_to_the_gateway(cloud, "/api/v1/health", [("x-origin-verify", secret)]).status == 200


def test_the_front_door_adds_the_origin_header_and_replaces_a_viewers(http: httpx.Client, user: User) -> None:
    assert http.get("/api/v1/health").status_code == 200
    forged = {"X-Origin-Verify": "guessed-value", **user.headers}
    assert http.get("/api/v1/auth/me", headers=forged).status_code == 200


def test_a_crashing_sandbox_is_a_502_and_the_next_call_gets_a_new_one(http: httpx.Client) -> None:
    assert http.get("/api/test/crash").status_code == 502
    assert http.get("/api/test/crash").status_code == 502
    assert http.get("/api/v1/health").status_code == 200


# --- runtime ------------------------------------------------------------------------------------


def test_timeout_kills_the_invocation_at_the_function_timeout(cloud: LocalCloud) -> None:
    started = time.monotonic()
    with pytest.raises(InvocationError) as failure:
        cloud.runtime.invoke("sleepy", {"seconds": 30})
    assert failure.value.error_type == "Sandbox.Timedout"
    assert time.monotonic() - started < 15  # killed at its 1 s timeout, far before the 30 s sleep ends
    assert cloud.runtime.invoke("sleepy", {"seconds": 0}).result == {"slept": 0}


def test_reserved_concurrency_throttles_the_excess(cloud: LocalCloud) -> None:
    cloud.runtime.invoke("sleepy", {})  # warm one sandbox so timing is about concurrency, not imports
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        calls = [pool.submit(cloud.runtime.invoke, "sleepy", {"seconds": 0.9}) for _ in range(2)]
        outcomes = []
        for call in calls:
            try:
                outcomes.append(call.result().result)
            except ThrottledError:
                outcomes.append("throttled")
    # Reserved concurrency 1: whichever call got the sandbox ran; the other was refused, not queued.
    assert sorted(map(str, outcomes)) == sorted(["throttled", str({"slept": 0.9})])


def test_handler_errors_come_back_as_lambda_error_payloads(cloud: LocalCloud) -> None:
    with pytest.raises(InvocationError) as failure:
        cloud.runtime.invoke("stepper", {"explode": True})
    assert failure.value.payload()["errorType"] == "StepFailedError"
    assert failure.value.payload()["errorMessage"] == "asked to fail"


# --- event sources --------------------------------------------------------------------------------


def test_sqs_batches_with_partial_failure_and_dead_letter(cloud: LocalCloud) -> None:
    sqs = cloud.aws.client("sqs")
    marker = f"job-{time.time_ns()}"
    for body in (f"{marker}-a", f"{marker}-b", f"{marker}-fail"):
        sqs.send_message(QueueUrl=cloud.names.queue_url("jobs"), MessageBody=body)
    eventually(lambda: {f"{marker}-a", f"{marker}-b"} <= {json.loads(p) for p in records(cloud, "sqs")})

    def dead_lettered() -> bool:
        messages = sqs.receive_message(
            QueueUrl=cloud.names.queue_url("jobs_dlq"), MaxNumberOfMessages=10, WaitTimeSeconds=1
        ).get("Messages", [])
        return any(m["Body"] == f"{marker}-fail" for m in messages)

    eventually(dead_lettered, timeout=30)
    assert f"{marker}-fail" not in {json.loads(p) for p in records(cloud, "sqs")}


def test_dynamodb_stream_delivers_inserts(cloud: LocalCloud) -> None:
    key = f"item-{time.time_ns()}"
    cloud.aws.client("dynamodb").put_item(
        TableName=cloud.names.table("inbox"), Item={"pk": {"S": key}, "sk": {"S": "1"}}
    )
    seen = eventually(lambda: [json.loads(p) for p in records(cloud, "stream") if key in p])
    assert seen[0]["eventName"] == "INSERT"


def test_a_cancelled_transaction_leaves_the_stream_delivering_and_records_nothing(cloud: LocalCloud) -> None:
    """moto rolls a cancelled transaction back by restoring copies of its tables; the local cloud keeps
    each table's stream shard attached (infra/local/dynamodb.py), or the stream fell silent for good."""
    ddb, table, key = cloud.aws.client("dynamodb"), cloud.names.table("inbox"), f"tx-{time.time_ns()}"
    ddb.put_item(TableName=table, Item={"pk": {"S": key}, "sk": {"S": "1"}})
    cancelled = [
        {"Put": {"TableName": table, "Item": {"pk": {"S": key}, "sk": {"S": "rolled-back"}}}},
        {
            "Put": {
                "TableName": table,
                "Item": {"pk": {"S": key}, "sk": {"S": "1"}},
                "ConditionExpression": "attribute_not_exists(pk)",  # it exists: the transaction fails
            }
        },
    ]
    with pytest.raises(ddb.exceptions.TransactionCanceledException):
        ddb.transact_write_items(TransactItems=cancelled)
    ddb.put_item(TableName=table, Item={"pk": {"S": key}, "sk": {"S": "after"}})
    seen = eventually(
        lambda: (
            (s := [json.loads(p) for p in records(cloud, "stream") if key in p])
            and any(r["keys"]["sk"]["S"] == "after" for r in s)
            and s
        )
    )
    assert sorted(r["keys"]["sk"]["S"] for r in seen) == ["1", "after"]  # nothing of the rolled-back put


def test_eventbridge_rule_delivers_matching_events_only(cloud: LocalCloud) -> None:
    marker = f"evt-{time.time_ns()}"
    cloud.aws.client("events").put_events(
        Entries=[
            {
                "EventBusName": cloud.names.bus("events"),
                "Source": "skyreel.test",
                "DetailType": "t",
                "Detail": json.dumps({"marker": marker}),
            },
            {
                "EventBusName": cloud.names.bus("events"),
                "Source": "skyreel.other",
                "DetailType": "t",
                "Detail": json.dumps({"marker": f"{marker}-other"}),
            },
        ]
    )
    seen = eventually(lambda: [json.loads(p) for p in records(cloud, "eventbridge") if marker in p])
    time.sleep(1.5)  # give a wrongly matched event time to arrive
    assert [e["detail"]["marker"] for e in seen if marker in e["detail"]["marker"]] == [marker]
    assert seen[0]["source"] == "skyreel.test"


def test_upload_notifications_reach_their_queue(cloud: LocalCloud) -> None:
    key = f"in/{time.time_ns()}/my clip+1.mp4"
    s3 = cloud.aws.client("s3")
    s3.put_object(Bucket=cloud.names.bucket("drop"), Key=key, Body=b"x")
    s3.put_object(Bucket=cloud.names.bucket("drop"), Key="elsewhere/x.mp4", Body=b"x")  # outside the prefix
    sqs = cloud.aws.client("sqs")

    def keys() -> list[str]:
        messages = sqs.receive_message(
            QueueUrl=cloud.names.queue_url("drops"), MaxNumberOfMessages=10, WaitTimeSeconds=1
        ).get("Messages", [])
        found = []
        for message in messages:
            for record in json.loads(message["Body"]).get("Records", []):
                found.append(unquote_plus(record["s3"]["object"]["key"]))  # S3 URL-encodes keys
            sqs.delete_message(
                QueueUrl=cloud.names.queue_url("drops"), ReceiptHandle=message["ReceiptHandle"]
            )
        return found

    seen = eventually(keys)
    assert key in seen
    assert "elsewhere/x.mp4" not in seen


# --- Step Functions -------------------------------------------------------------------------------


def _run(cloud: LocalCloud, payload: dict[str, object]) -> dict[str, object]:
    sfn = cloud.aws.client("stepfunctions")
    # Always name executions: moto names unnamed ones "None", so a second one would collide.
    arn = sfn.start_execution(
        stateMachineArn=cloud.names.state_machine_arn("steps"),
        name=uuid.uuid4().hex,
        input=json.dumps(payload),
    )["executionArn"]
    return eventually(lambda: (d := sfn.describe_execution(executionArn=arn))["status"] != "RUNNING" and d)  # type: ignore[no-any-return]


def test_workflow_tasks_run_the_real_handlers(cloud: LocalCloud) -> None:
    before = stepfunctions.calls
    execution = _run(cloud, {"order": 1})
    assert execution["status"] == "SUCCEEDED", execution
    assert json.loads(str(execution["output"])) == {
        "order": 1,
        "steps": ["skyreel-stepper", "skyreel-stepper"],
    }
    # If moto stops calling the hook, tasks would silently echo their input: fail loudly instead.
    assert stepfunctions.calls - before == 2


def test_workflow_failure_is_caught_and_compensated(cloud: LocalCloud) -> None:
    execution = _run(cloud, {"explode": True})
    assert execution["status"] == "FAILED"
    assert execution.get("error") == "StepFailed"
    name = str(execution["executionArn"]).rsplit(":", 1)[1]
    assert name in records(cloud, "compensated")


# --- media (the CDN path) -------------------------------------------------------------------------


def test_public_media_with_ranges_and_cors(http: httpx.Client, cloud: LocalCloud) -> None:
    cloud.aws.client("s3").put_object(
        Bucket=cloud.names.bucket("media"),
        Key="public/hls/v1/seg.ts",
        Body=bytes(range(256)) * 4,
        ContentType="video/mp2t",
        CacheControl="public, max-age=31536000, immutable",
    )
    whole = http.get("/media/public/hls/v1/seg.ts", headers={"Origin": "http://example.test"})
    assert whole.status_code == 200
    assert whole.content == bytes(range(256)) * 4
    assert whole.headers["access-control-allow-origin"] == "*"
    assert whole.headers["cache-control"] == "public, max-age=31536000, immutable"
    part = http.get("/media/public/hls/v1/seg.ts", headers={"Range": "bytes=10-19"})
    assert part.status_code == 206
    assert part.content == bytes(range(10, 20))
    assert part.headers["content-range"] == "bytes 10-19/1024"
    assert http.get("/media/public/hls/v1/missing.ts").status_code == 404


def test_private_media_needs_a_valid_unexpired_token(http: httpx.Client, cloud: LocalCloud) -> None:
    cloud.aws.client("s3").put_object(
        Bucket=cloud.names.bucket("media"),
        Key="hls/v9/master.m3u8",
        Body=b"#EXTM3U\n",
        ContentType="application/vnd.apple.mpegurl",
    )
    assert http.get(f"{cloud.url}/media/hls/v9/master.m3u8").status_code == 403  # no unsigned path
    token = media_token(cloud, "v9", int(time.time()) + 300)
    signed = f"{cloud.url}/media/s/{token}/hls/v9/master.m3u8"
    answer = http.get(signed)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/vnd.apple.mpegurl"
    assert http.get(signed.replace("/v9/", "/v8/")).status_code == 403
    expired = media_token(cloud, "v9", int(time.time()) - 1)
    assert http.get(f"{cloud.url}/media/s/{expired}/hls/v9/master.m3u8").status_code == 403
