"""Viewer analytics through the local cloud's front door (docs/viewer-analytics.md): beacons -> the event
store -> the projector on its stream -> read models with exact numbers; duplicates never count twice; an
anonymous player reports with a playback token; 404s and 422s change nothing; a replay rebuilds every read
model byte for byte."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import pytest

from infra.local.cloud import LocalCloud
from tests.integration.conftest import User, eventually, media_token, sign_up
from tests.integration.test_videos import VIDEOS, create, make_ready

pytestmark = pytest.mark.integration

ANALYTICS = "/api/v1/analytics"


def ready_video(http: httpx.Client, cloud: LocalCloud, user: User, visibility: str = "private") -> str:
    video_id: str = create(http, user, visibility=visibility)["video"]["id"]
    prefix = f"public/hls/{video_id}/" if visibility == "public" else f"hls/{video_id}/"
    make_ready(cloud, video_id, prefix)
    cloud.aws.client("dynamodb").update_item(  # what the transcoder records: the ladder it made
        TableName=cloud.names.table("videos"),
        Key={"pk": {"S": f"VIDEO#{video_id}"}, "sk": {"S": "VIDEO"}},
        UpdateExpression="SET renditions = :r",
        ExpressionAttributeValues={
            ":r": {"L": [{"M": {"name": {"S": "720p"}}}, {"M": {"name": {"S": "360p"}}}]}
        },
    )
    return video_id


def beacon(
    http: httpx.Client, video_id: str, headers: dict[str, str] | None = None, **fields: Any
) -> httpx.Response:
    body = {"session_id": "session-1", "watched_s": 10, "rendition": "720p", **fields}
    return http.post(f"{VIDEOS}/{video_id}/views", headers=headers or {}, json=body)


def stored_events(cloud: LocalCloud, video_id: str) -> int:
    """The video's events in the event store (its sessions' beacon counts sit beside them)."""
    return int(
        cloud.aws.client("dynamodb").query(
            TableName=cloud.names.table("view_events"),
            KeyConditionExpression="pk = :p AND begins_with(sk, :e)",
            ExpressionAttributeValues={":p": {"S": f"VIDEO#{video_id}"}, ":e": {"S": "EVENT#"}},
            Select="COUNT",
        )["Count"]
    )


def numbers(http: httpx.Client, user: User, video_id: str) -> dict[str, Any]:
    response = http.get(f"{ANALYTICS}/videos/{video_id}", headers=user.headers)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def read_model_items(cloud: LocalCloud) -> list[dict[str, Any]]:
    pages = (
        cloud.aws.client("dynamodb")
        .get_paginator("scan")
        .paginate(
            TableName=cloud.names.table("analytics"),
            FilterExpression="begins_with(pk, :p)",
            ExpressionAttributeValues={":p": {"S": "VIEWS#"}},
        )
    )
    items = [item for page in pages for item in page["Items"]]
    return sorted(items, key=lambda i: (i["pk"]["S"], i["sk"]["S"]))


def test_beacons_become_exact_numbers_and_duplicates_never_count_twice(
    http: httpx.Client, cloud: LocalCloud, user: User
) -> None:
    video_id = ready_video(http, cloud, user, visibility="public")
    viewer = sign_up(http)
    sent = [
        # the owner's session: 360p to 10 s, 720p to 30 s, stalled 1 s; every beacon sent twice
        (user.headers, {"session_id": "session-AAA", "watched_s": 4, "rendition": "360p", "startup_ms": 800}),
        (
            user.headers,
            {"session_id": "session-AAA", "watched_s": 10, "rendition": "360p", "rebuffer_ms": 400},
        ),
        (
            user.headers,
            {"session_id": "session-AAA", "watched_s": 30, "rendition": "720p", "rebuffer_ms": 1000},
        ),
        # another signed-in user: 20 s at 720p, then a failure
        (viewer.headers, {"session_id": "session-BBB", "watched_s": 20, "startup_ms": 1200}),
        (viewer.headers, {"session_id": "session-BBB", "watched_s": 20, "error": "MEDIA_ERR_DECODE"}),
        # an anonymous player (no account, a public video): two sessions, one viewer id
        ({}, {"session_id": "session-CCC", "watched_s": 5, "viewer_id": "viewer-anon-1", "startup_ms": 400}),
        ({}, {"session_id": "session-DDD", "watched_s": 5, "viewer_id": "viewer-anon-1"}),
    ]
    receipts = []
    for headers, body in sent + sent:
        response = beacon(http, video_id, headers, **body)
        assert response.status_code == 202, response.text
        receipts.append(response.json())
    assert [r["duplicate"] for r in receipts] == [False] * len(sent) + [True] * len(sent)
    assert stored_events(cloud, video_id) == len(sent)

    expected_watch = 30 + 20 + 5 + 5
    got = eventually(
        lambda: (
            (n := numbers(http, user, video_id))["views"] == 4 and n["watch_time_s"] == expected_watch and n
        )
    )
    assert got["unique_viewers"] == 3
    assert got["failures"] == 1
    assert got["rebuffer_ratio"] == round(1.0 / (expected_watch + 1.0), 4)
    assert {r["rendition"]: r["watch_time_s"] for r in got["renditions"]} == {"720p": 50.0, "360p": 10.0}
    assert got["startup"]["sessions"] == 3
    assert got["startup"]["p50_ms"] == pytest.approx(800, rel=0.01)
    time.sleep(1.5)  # a late redelivery or straggler would show now: the numbers stay
    assert numbers(http, user, video_id) == got

    overview = http.get(f"{ANALYTICS}/overview", headers=user.headers)
    assert overview.status_code == 200, overview.text
    assert (overview.json()["views"], overview.json()["videos_watched"]) == (4, 1)


def test_an_anonymous_player_reports_with_its_playback_token(
    http: httpx.Client, cloud: LocalCloud, user: User
) -> None:
    video_id = ready_video(http, cloud, user)
    other_id = ready_video(http, cloud, user)
    token = media_token(cloud, video_id, int(time.time()) + 600)
    with_token = {"X-Playback-Token": token}
    assert beacon(http, video_id, with_token, viewer_id="viewer-embed-1").status_code == 202
    # a private video without the token, with another video's token, with a forged or expired one: 404
    expired = media_token(cloud, video_id, int(time.time()) - 5)
    for headers, target in [
        ({}, video_id),
        (with_token, other_id),
        ({"X-Playback-Token": token[:-2] + "xx"}, video_id),
        ({"X-Playback-Token": expired}, video_id),
    ]:
        response = beacon(http, target, headers, session_id=f"session-{uuid.uuid4().hex[:8]}")
        assert response.status_code == 404, (headers, target, response.text)
        assert response.json()["error"]["code"] == "not_found"
    assert stored_events(cloud, video_id) == 1
    assert stored_events(cloud, other_id) == 0
    eventually(lambda: numbers(http, user, video_id)["views"] == 1)


def test_whoever_may_not_watch_gets_404_and_bad_credentials_401(
    http: httpx.Client, cloud: LocalCloud, user: User
) -> None:
    video_id = ready_video(http, cloud, user)
    stranger = sign_up(http)
    for headers, target in [(stranger.headers, video_id), (user.headers, "nosuchvideo")]:
        response = beacon(http, target, headers)
        assert response.status_code == 404, response.text
    assert beacon(http, video_id, {"Authorization": "Bearer not-a-token"}).status_code == 401
    assert stored_events(cloud, video_id) == 0
    # only the owner reads a video's analytics
    refused = http.get(f"{ANALYTICS}/videos/{video_id}", headers=stranger.headers)
    assert refused.status_code == 404, refused.text
    assert http.get(f"{ANALYTICS}/videos/{video_id}").status_code == 401


@pytest.mark.parametrize(
    "fields",
    [
        {"watched_s": -1},
        {"watched_s": 10_000_000},
        {"rendition": "1080p"},  # the video has 720p and 360p
        {"rendition": "<script>"},
        {"startup_ms": -1},
        {"padding": "x" * 2_000_000},  # a huge body
        {"session_id": "s" * 100_000},
    ],
    ids=["negative", "absurd", "unknown-rendition", "not-a-rendition", "negative-startup", "huge", "huge-id"],
)
def test_bad_input_is_422_and_records_nothing(
    http: httpx.Client, cloud: LocalCloud, user: User, fields: dict[str, Any]
) -> None:
    video_id = ready_video(http, cloud, user)
    response = beacon(http, video_id, user.headers, **fields)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "validation_failed"
    assert stored_events(cloud, video_id) == 0


def test_replay_rebuilds_every_read_model_byte_for_byte(
    http: httpx.Client, cloud: LocalCloud, user: User
) -> None:
    video_id = ready_video(http, cloud, user, visibility="public")
    for n in range(1, 6):
        for session in ("session-RRR1", "session-RRR2"):
            assert (
                beacon(http, video_id, user.headers, session_id=session, watched_s=n * 3).status_code == 202
            )
    eventually(lambda: numbers(http, user, video_id)["watch_time_s"] == 30)
    time.sleep(1.0)  # every other test's beacons projected too
    projected = read_model_items(cloud)
    assert projected
    # Damage the read models: a wrong total and a missing session. The replay must put them right.
    ddb = cloud.aws.client("dynamodb")
    ddb.update_item(
        TableName=cloud.names.table("analytics"),
        Key={"pk": {"S": f"VIEWS#VIDEO#{video_id}"}, "sk": {"S": "TOTALS"}},
        UpdateExpression="SET #v = :n",
        ExpressionAttributeNames={"#v": "views"},
        ExpressionAttributeValues={":n": {"N": "999"}},
    )
    ddb.delete_item(
        TableName=cloud.names.table("analytics"),
        Key={
            "pk": {"S": f"VIEWS#VIDEO#{video_id}"},
            "sk": {"S": f"SESSION#u:{_user_id(http, user)}#session-RRR1"},
        },
    )
    assert numbers(http, user, video_id)["views"] == 999
    result = cloud.runtime.invoke("analytics_projector", {"action": "replay"}, wait_s=120).result
    assert result["events"] >= 10
    assert read_model_items(cloud) == projected
    assert numbers(http, user, video_id)["views"] == 2


def _user_id(http: httpx.Client, user: User) -> str:
    me = http.get("/api/v1/auth/me", headers=user.headers)
    assert me.status_code == 200, me.text
    return str(me.json()["id"])
