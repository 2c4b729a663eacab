"""Videos through the local front door: uploads straight to S3, ownership, listing, concurrent updates,
playback signatures on the media path, the delete saga and abandoned uploads."""

from __future__ import annotations

import base64
import concurrent.futures
import json
from typing import Any

import httpx
import pytest

from infra.local.cloud import LocalCloud
from tests.integration.conftest import STORAGE_QUOTA_BYTES, User, eventually, records, sign_up

pytestmark = pytest.mark.integration
VIDEOS = "/api/v1/videos"
MIB = 2**20


def create(http: httpx.Client, user: User, size: int = 1000, **fields: Any) -> dict[str, Any]:
    body = {
        "title": fields.pop("title", "A clip"),
        **fields,
        "upload": {"filename": "My Clip (1).mp4", "content_type": "video/mp4", "size_bytes": size},
    }
    response = http.post(VIDEOS, headers=user.headers, json=body)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def video(http: httpx.Client, user: User, video_id: str) -> dict[str, Any]:
    response = http.get(f"{VIDEOS}/{video_id}", headers=user.headers)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def wait_status(http: httpx.Client, user: User, video_id: str, status: str) -> dict[str, Any]:
    return eventually(lambda: (v := video(http, user, video_id))["status"] == status and v, timeout=20)  # type: ignore[no-any-return]


def put_file(upload: dict[str, Any], data: bytes) -> None:
    response = httpx.put(upload["url"], content=data, headers=upload["headers"])
    assert response.status_code == 200, response.text


def objects(cloud: LocalCloud, bucket: str, prefix: str) -> list[str]:
    listed = cloud.aws.client("s3").list_objects_v2(Bucket=cloud.names.bucket(bucket), Prefix=prefix)
    return [o["Key"] for o in listed.get("Contents", [])]


def bucket_keys(cloud: LocalCloud, bucket: str) -> set[str]:
    """Every key in the whole bucket, not only one video's prefixes: an orphan anywhere shows."""
    pages = (
        cloud.aws.client("s3").get_paginator("list_objects_v2").paginate(Bucket=cloud.names.bucket(bucket))
    )
    return {o["Key"] for page in pages for o in page.get("Contents", [])}


def open_uploads(cloud: LocalCloud) -> dict[str, str]:
    """The uploads bucket's open multipart uploads: upload id -> key."""
    listed = cloud.aws.client("s3").list_multipart_uploads(Bucket=cloud.names.bucket("uploads"))
    return {u["UploadId"]: u["Key"] for u in listed.get("Uploads", [])}


def put_parts(upload: dict[str, Any], data: bytes, numbers: list[int]) -> dict[int, str]:
    """PUT these parts of `data` to their presigned URLs; their ETags."""
    size = upload["part_size"]
    urls = {p["part_number"]: p["url"] for p in upload["parts"]}
    etags = {}
    for n in numbers:
        response = httpx.put(urls[n], content=data[(n - 1) * size : n * size])
        assert response.status_code == 200, response.text
        etags[n] = response.headers["etag"]
    return etags


def make_ready(cloud: LocalCloud, video_id: str, prefix: str) -> None:
    """What the transcoder does when it finishes: media under `prefix`, the record ready."""
    s3 = cloud.aws.client("s3")
    for name, body in (
        ("master.m3u8", b"#EXTM3U\n"),
        ("720p/index.m3u8", b"#EXTM3U\n"),
        ("720p/seg_00000.ts", b"ts"),
        ("poster.jpg", b"jpg"),
    ):
        s3.put_object(Bucket=cloud.names.bucket("media"), Key=f"{prefix}{name}", Body=body)
    cloud.aws.client("dynamodb").update_item(
        TableName=cloud.names.table("videos"),
        Key={"pk": {"S": f"VIDEO#{video_id}"}, "sk": {"S": "VIDEO"}},
        UpdateExpression="SET #s = :r, media_prefix = :p REMOVE gsi3pk, gsi3sk",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":r": {"S": "ready"}, ":p": {"S": prefix}},
    )


# --- uploads ------------------------------------------------------------------------------------------


def test_single_put_upload_marks_the_video_uploaded(
    http: httpx.Client, cloud: LocalCloud, user: User
) -> None:
    created = create(http, user, size=2048, tags=["Cats", "cats", " holiday "])
    assert created["video"]["status"] == "awaiting_upload"
    assert created["video"]["tags"] == ["cats", "holiday"]
    upload = created["upload"]
    assert upload["method"] == "PUT"
    put_file(upload, b"v" * 2048)
    uploaded = wait_status(http, user, created["video"]["id"], "uploaded")
    assert uploaded["version"] == 2
    event = eventually(
        lambda: [json.loads(p) for p in records(cloud, "eventbridge") if created["video"]["id"] in p]
    )
    assert event[0]["detail-type"] == "video.uploaded"
    assert objects(cloud, "uploads", f"originals/{created['video']['id']}/") == [
        f"originals/{created['video']['id']}/My-Clip-1-.mp4"
    ]


def test_a_file_of_another_size_fails_the_video_and_is_removed(
    http: httpx.Client, cloud: LocalCloud, user: User
) -> None:
    created = create(http, user, size=2048)
    upload = created["upload"]
    # S3 refuses this PUT (Content-Length is signed), and so does the local endpoint (test_upload_parity.py).
    refused = httpx.put(upload["url"], content=b"v" * 4096, headers={"Content-Type": "video/mp4"})
    assert refused.status_code == 403
    # The ingest check is the second line behind it: a file of another size written to the key anyway.
    key = f"originals/{created['video']['id']}/My-Clip-1-.mp4"
    cloud.aws.client("s3").put_object(Bucket=cloud.names.bucket("uploads"), Key=key, Body=b"v" * 4096)
    failed = wait_status(http, user, created["video"]["id"], "failed")
    assert "4096 bytes but 2048 were declared" in failed["error"]
    eventually(lambda: objects(cloud, "uploads", f"originals/{created['video']['id']}/") == [])


@pytest.mark.parametrize(
    ("upload", "status"),
    [
        ({"filename": "a.txt", "content_type": "text/plain", "size_bytes": 10}, 415),
        ({"filename": "a.mp4", "content_type": "video/mp4", "size_bytes": 6 * 1024**3}, 413),
        ({"filename": "a.mp4", "content_type": "video/mp4", "size_bytes": 0}, 422),
    ],
)
def test_upload_limits(http: httpx.Client, user: User, upload: dict[str, Any], status: int) -> None:
    response = http.post(VIDEOS, headers=user.headers, json={"title": "x", "upload": upload})
    assert response.status_code == status, response.text
    assert http.get(VIDEOS, headers=user.headers).json()["items"] == []  # nothing was created


def test_an_interrupted_multipart_upload_resumes(http: httpx.Client, user: User) -> None:
    size = 12 * MIB
    created = create(http, user, size=size)
    upload = created["upload"]
    assert upload["method"] == "multipart"
    assert [p["part_number"] for p in upload["parts"]] == [1, 2, 3]
    data = bytes(range(256)) * (size // 256)
    part = upload["part_size"]
    etags = {}
    for p in upload["parts"][:2]:  # then the connection drops
        n = p["part_number"]
        etags[n] = httpx.put(p["url"], content=data[(n - 1) * part : n * part]).headers["etag"]
    progress = http.get(f"{VIDEOS}/{created['video']['id']}/upload", headers=user.headers).json()
    assert [r["part_number"] for r in progress["received"]] == [1, 2]
    assert [m["part_number"] for m in progress["missing"]] == [3]
    etags[3] = httpx.put(progress["missing"][0]["url"], content=data[2 * part :]).headers["etag"]
    done = http.post(
        f"{VIDEOS}/{created['video']['id']}/upload/complete",
        headers=user.headers,
        json={"parts": [{"part_number": n, "etag": e} for n, e in sorted(etags.items())]},
    )
    assert done.status_code == 200, done.text
    wait_status(http, user, created["video"]["id"], "uploaded")


def test_completing_with_missing_parts_is_refused(http: httpx.Client, user: User) -> None:
    created = create(http, user, size=12 * MIB)
    response = http.post(
        f"{VIDEOS}/{created['video']['id']}/upload/complete",
        headers=user.headers,
        json={"parts": [{"part_number": 1, "etag": "x"}]},
    )
    assert response.status_code == 409


def test_abandoned_uploads_expire(http: httpx.Client, cloud: LocalCloud, user: User) -> None:
    created = create(http, user, size=12 * MIB)
    video_id = created["video"]["id"]
    cloud.aws.client("dynamodb").update_item(  # pretend the 24 hours have passed
        TableName=cloud.names.table("videos"),
        Key={"pk": {"S": f"VIDEO#{video_id}"}, "sk": {"S": "VIDEO"}},
        UpdateExpression="SET gsi3sk = :d",
        ExpressionAttributeValues={":d": {"S": f"{0:012d}#{video_id}"}},
    )
    assert cloud.runtime.invoke("videos_sweeper", {}).result["expired"] >= 1
    failed = video(http, user, video_id)
    assert failed["status"] == "failed"
    assert "not completed within 24 hours" in failed["error"]
    uploads = (
        cloud.aws.client("s3").list_multipart_uploads(Bucket=cloud.names.bucket("uploads")).get("Uploads", [])
    )
    assert video_id not in json.dumps(uploads, default=str)


def test_aborting_a_multipart_upload_drops_its_parts_and_fails_the_video(
    http: httpx.Client, cloud: LocalCloud, user: User
) -> None:
    size = 12 * MIB
    created = create(http, user, size=size)
    video_id, upload = created["video"]["id"], created["upload"]
    put_parts(upload, b"v" * size, [1])
    assert upload["upload_id"] in open_uploads(cloud)
    stranger = sign_up(http)
    assert http.post(f"{VIDEOS}/{video_id}/upload/abort", headers=stranger.headers).status_code == 404
    assert upload["upload_id"] in open_uploads(cloud)  # the stranger changed nothing
    assert (video(http, user, video_id)["status"], video(http, user, video_id)["version"]) == (
        "awaiting_upload",
        1,
    )
    aborted = http.post(f"{VIDEOS}/{video_id}/upload/abort", headers=user.headers)
    assert aborted.status_code == 200, aborted.text
    assert (aborted.json()["status"], aborted.json()["error"]) == (
        "failed",
        "The upload was aborted by its owner.",
    )
    assert upload["upload_id"] not in open_uploads(cloud)
    assert objects(cloud, "uploads", f"originals/{video_id}/") == []
    again = http.post(f"{VIDEOS}/{video_id}/upload/abort", headers=user.headers)
    assert again.status_code == 409
    assert "failed" in again.json()["error"]["message"]
    assert http.get(f"{VIDEOS}/{video_id}/upload", headers=user.headers).status_code == 409  # closed
    assert video(http, user, video_id)["version"] == 2


def test_a_single_put_upload_cannot_be_aborted(http: httpx.Client, user: User) -> None:
    video_id = create(http, user, size=2048)["video"]["id"]
    response = http.post(f"{VIDEOS}/{video_id}/upload/abort", headers=user.headers)
    assert response.status_code == 409
    assert "single PUT" in response.json()["error"]["message"]
    after = video(http, user, video_id)
    assert (after["status"], after["version"], after["error"]) == ("awaiting_upload", 1, None)


def test_a_completed_upload_cannot_be_aborted(http: httpx.Client, cloud: LocalCloud, user: User) -> None:
    size = 12 * MIB
    created = create(http, user, size=size)
    video_id, upload = created["video"]["id"], created["upload"]
    etags = put_parts(upload, b"v" * size, [1, 2, 3])
    done = http.post(
        f"{VIDEOS}/{video_id}/upload/complete",
        headers=user.headers,
        json={"parts": [{"part_number": n, "etag": e} for n, e in sorted(etags.items())]},
    )
    assert done.status_code == 200, done.text
    # Whether or not the upload notification was handled yet, the upload is over: 409, and nothing changes.
    response = http.post(f"{VIDEOS}/{video_id}/upload/abort", headers=user.headers)
    assert response.status_code == 409, response.text
    uploaded = wait_status(http, user, video_id, "uploaded")
    assert uploaded["error"] is None
    assert objects(cloud, "uploads", f"originals/{video_id}/") == [f"originals/{video_id}/My-Clip-1-.mp4"]


# --- ownership, listing, updates ------------------------------------------------------------------------


@pytest.mark.parametrize("visibility", ["private", "unlisted"])
def test_someone_elses_video_is_not_found_everywhere(
    http: httpx.Client, cloud: LocalCloud, user: User, visibility: str
) -> None:
    created = create(http, user, size=12 * MIB, visibility=visibility)
    mine = created["video"]["id"]
    other = sign_up(http)
    for method, path, body in (
        ("GET", "", None),
        ("PATCH", "", {"title": "hijack"}),
        ("DELETE", "", None),
        ("GET", "/playback", None),
        ("GET", "/upload", None),
        ("POST", "/upload/complete", {"parts": [{"part_number": 1, "etag": "x"}]}),
        ("POST", "/upload/abort", None),
        ("POST", "/transcode/retry", None),
        ("POST", "/transcode/cancel", None),
    ):
        response = http.request(method, f"{VIDEOS}/{mine}{path}", headers=other.headers, json=body)
        assert response.status_code == 404, (method, path, response.text)
        assert response.json()["error"]["message"] == f"No video {mine}."  # the same answer as for no video
    after = video(http, user, mine)
    assert (after["title"], after["status"], after["version"]) == ("A clip", "awaiting_upload", 1)
    assert created["upload"]["upload_id"] in open_uploads(cloud)


def test_someone_else_cannot_complete_an_upload_or_retry_processing(
    http: httpx.Client, cloud: LocalCloud, user: User
) -> None:
    size = 12 * MIB
    created = create(http, user, size=size)
    video_id, upload = created["video"]["id"], created["upload"]
    etags = put_parts(upload, b"v" * size, [1, 2, 3])
    parts = {"parts": [{"part_number": n, "etag": e} for n, e in sorted(etags.items())]}
    other = sign_up(http)
    # The right parts and ETags, from the wrong user: not found, and the upload stays open and unassembled.
    response = http.post(f"{VIDEOS}/{video_id}/upload/complete", headers=other.headers, json=parts)
    assert response.status_code == 404, response.text
    assert upload["upload_id"] in open_uploads(cloud)
    assert objects(cloud, "uploads", f"originals/{video_id}/") == []
    progress = http.get(f"{VIDEOS}/{video_id}/upload", headers=user.headers).json()
    assert [r["part_number"] for r in progress["received"]] == [1, 2, 3]
    assert (
        http.post(f"{VIDEOS}/{video_id}/upload/complete", headers=user.headers, json=parts).status_code == 200
    )
    wait_status(http, user, video_id, "uploaded")
    cancelled = http.post(f"{VIDEOS}/{video_id}/transcode/cancel", headers=user.headers)
    assert cancelled.status_code == 202
    failed = cancelled.json()["video"]
    response = http.post(f"{VIDEOS}/{video_id}/transcode/retry", headers=other.headers)
    assert response.status_code == 404, response.text
    after = video(http, user, video_id)
    assert (after["status"], after["error"], after["version"]) == (
        "failed",
        failed["error"],
        failed["version"],
    )


def test_public_videos_are_visible_but_not_changeable_by_others(http: httpx.Client, user: User) -> None:
    public = create(http, user, visibility="public", title="Hello world")["video"]["id"]
    other = sign_up(http)
    assert http.get(f"{VIDEOS}/{public}", headers=other.headers).status_code == 200
    assert http.patch(f"{VIDEOS}/{public}", headers=other.headers, json={"title": "x"}).status_code == 404
    catalogue = http.get(VIDEOS, headers=other.headers, params={"scope": "public", "limit": 100}).json()[
        "items"
    ]
    assert public in [v["id"] for v in catalogue]
    assert http.get(VIDEOS, headers=other.headers).json()["items"] == []  # "mine" is empty for them


def test_listing_is_newest_first_with_cursor_and_filters(http: httpx.Client) -> None:
    owner = sign_up(http)
    ids = [
        create(http, owner, title=f"v{i}", tags=["even" if i % 2 == 0 else "odd"])["video"]["id"]
        for i in range(5)
    ]
    seen, cursor = [], None
    while True:
        page = http.get(
            VIDEOS, headers=owner.headers, params={"limit": 2, **({"cursor": cursor} if cursor else {})}
        )
        body = page.json()
        seen += [v["id"] for v in body["items"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert seen == list(reversed(ids))
    even = http.get(VIDEOS, headers=owner.headers, params={"tag": "even"}).json()["items"]
    assert [v["id"] for v in even] == [ids[4], ids[2], ids[0]]
    assert http.get(VIDEOS, headers=owner.headers, params={"status": "ready"}).json()["items"] == []
    assert http.get(VIDEOS, headers=owner.headers, params={"cursor": "garbage!"}).status_code == 400
    assert http.get(VIDEOS, headers=owner.headers, params={"limit": 1000}).status_code == 422


def _cursor(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode()


def test_a_forged_cursor_is_a_400_not_a_503(http: httpx.Client) -> None:
    owner, other = sign_up(http), sign_up(http)
    for _ in range(2):
        create(http, other)
    theirs = http.get(VIDEOS, headers=other.headers, params={"limit": 1}).json()["next_cursor"]
    start = json.loads(base64.urlsafe_b64decode(theirs))
    forged = {
        "another owner's cursor": theirs,
        "a number for a string": _cursor({**start, "pk": {"N": "1"}}),
        "keys that are not ours": _cursor({**start, "password_hash": {"S": "x"}}),
        "a list for a key": _cursor({**start, "sk": ["VIDEO"]}),
        "the catalogue's keys": _cursor(
            {"pk": start["pk"], "sk": start["sk"], "gsi2pk": {"S": "PUBLIC"}, "gsi2sk": start["gsi1sk"]}
        ),
    }
    for name, cursor in forged.items():
        response = http.get(VIDEOS, headers=owner.headers, params={"cursor": cursor})
        assert response.status_code == 400, (name, response.text)
        assert response.json()["error"]["code"] == "malformed_request", name
        assert set(response.json()["error"]) == {"code", "message", "details"}
    # their own cursor still works for them, and a catalogue cursor is refused for `mine` and vice versa
    assert http.get(VIDEOS, headers=other.headers, params={"cursor": theirs}).status_code == 200
    public = http.get(VIDEOS, headers=owner.headers, params={"scope": "public", "cursor": theirs})
    assert public.status_code == 400, public.text


def test_listing_filters_by_visibility(http: httpx.Client) -> None:
    owner = sign_up(http)
    ids = {v: create(http, owner, visibility=v)["video"]["id"] for v in ("public", "unlisted", "private")}
    for visibility, video_id in ids.items():
        listed = http.get(VIDEOS, headers=owner.headers, params={"visibility": visibility})
        assert listed.status_code == 200, listed.text
        assert [v["id"] for v in listed.json()["items"]] == [video_id], visibility
        assert {v["visibility"] for v in listed.json()["items"]} == {visibility}
    everything = http.get(VIDEOS, headers=owner.headers).json()["items"]
    assert {v["id"] for v in everything} == set(ids.values())
    # The catalogue holds public videos only, whatever the filter asks for.
    catalogue: dict[str, str | int] = {"scope": "public", "visibility": "unlisted", "limit": 100}
    assert http.get(VIDEOS, headers=owner.headers, params=catalogue).json()["items"] == []
    public = http.get(VIDEOS, headers=owner.headers, params={**catalogue, "visibility": "public"}).json()
    assert ids["public"] in [v["id"] for v in public["items"]]
    assert all(v["visibility"] == "public" for v in public["items"])
    refused = http.get(VIDEOS, headers=owner.headers, params={"visibility": "secret"})
    assert refused.status_code == 422, refused.text


def test_concurrent_updates_do_not_lose_each_other(http: httpx.Client, user: User) -> None:
    video_id = create(http, user)["video"]["id"]
    changes = [
        {"title": "New title"},
        {"description": "New description"},
        {"tags": ["a", "b"]},
        {"visibility": "unlisted"},
    ]
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        statuses = list(
            pool.map(
                lambda c: http.patch(f"{VIDEOS}/{video_id}", headers=user.headers, json=c).status_code,
                changes,
            )
        )
    assert statuses == [200] * 4
    final = video(http, user, video_id)
    assert (final["title"], final["description"], final["tags"], final["visibility"]) == (
        "New title",
        "New description",
        ["a", "b"],
        "unlisted",
    )
    assert final["version"] == 5


def test_a_stale_version_is_409(http: httpx.Client, user: User) -> None:
    video_id = create(http, user)["video"]["id"]
    assert (
        http.patch(
            f"{VIDEOS}/{video_id}", headers=user.headers, json={"title": "one", "version": 1}
        ).status_code
        == 200
    )
    stale = http.patch(f"{VIDEOS}/{video_id}", headers=user.headers, json={"title": "two", "version": 1})
    assert stale.status_code == 409
    assert video(http, user, video_id)["title"] == "one"
    assert http.patch(f"{VIDEOS}/{video_id}", headers=user.headers, json={"title": ""}).status_code == 422


def test_api_keys_follow_their_scopes_on_videos(http: httpx.Client, user: User) -> None:
    key = http.post(
        "/api/v1/auth/api-keys", headers=user.headers, json={"name": "reader", "scopes": ["videos:read"]}
    ).json()["key"]
    assert http.get(VIDEOS, headers={"X-API-Key": key}).status_code == 200
    body = {"title": "x", "upload": {"filename": "a.mp4", "content_type": "video/mp4", "size_bytes": 10}}
    assert http.post(VIDEOS, headers={"X-API-Key": key}, json=body).status_code == 403


# --- playback on the media path ---------------------------------------------------------------------------


def test_private_playback_carries_a_token_that_opens_this_video_only(
    http: httpx.Client, cloud: LocalCloud, user: User
) -> None:
    video_id = create(http, user)["video"]["id"]
    assert http.get(f"{VIDEOS}/{video_id}/playback", headers=user.headers).status_code == 409  # not ready
    make_ready(cloud, video_id, f"hls/{video_id}/")
    response = http.get(f"{VIDEOS}/{video_id}/playback", headers=user.headers)
    assert response.status_code == 200, response.text
    assert "set-cookie" not in response.headers  # the URL alone plays
    urls = response.json()
    assert urls["expires_at"]
    prefix = urls["hls_url"].removesuffix("master.m3u8")
    # Built from the configured CDN URL (the front door's own origin locally), not from the request.
    assert prefix.startswith(f"{cloud.url}/media/s/")
    assert prefix.endswith(f"/hls/{video_id}/")
    assert urls["poster_url"] == f"{prefix}poster.jpg"
    # Every file the player resolves relative to the master playlist carries the token, no cookies needed.
    for file in ("master.m3u8", "720p/index.m3u8", "720p/seg_00000.ts", "poster.jpg"):
        assert httpx.get(f"{prefix}{file}").status_code == 200, file
    # The unsigned path to the same files is refused; only public/ is served without a token.
    assert httpx.get(f"{cloud.url}/media/hls/{video_id}/master.m3u8").status_code == 403


def test_a_forged_api_host_header_does_not_change_the_playback_url(
    http: httpx.Client, cloud: LocalCloud, user: User
) -> None:
    video_id = create(http, user)["video"]["id"]
    make_ready(cloud, video_id, f"hls/{video_id}/")
    forged = {**user.headers, "Host": "evil.example", "X-Forwarded-Host": "evil.example"}
    urls = http.get(f"{VIDEOS}/{video_id}/playback", headers=forged).json()
    assert urls["hls_url"].startswith(f"{cloud.url}/media/s/"), urls


def test_public_playback_is_plain(http: httpx.Client, cloud: LocalCloud, user: User) -> None:
    video_id = create(http, user, visibility="public")["video"]["id"]
    make_ready(cloud, video_id, f"public/hls/{video_id}/")
    urls = http.get(f"{VIDEOS}/{video_id}/playback", headers=sign_up(http).headers).json()
    assert urls["expires_at"] is None
    assert urls["hls_url"] == f"{cloud.url}/media/public/hls/{video_id}/master.m3u8"
    assert httpx.get(urls["hls_url"]).status_code == 200


# --- the delete saga ------------------------------------------------------------------------------------------


def _uploaded_and_ready(http: httpx.Client, cloud: LocalCloud, user: User) -> str:
    created = create(http, user, size=1024)
    put_file(created["upload"], b"v" * 1024)
    video_id: str = created["video"]["id"]
    wait_status(http, user, video_id, "uploaded")
    make_ready(cloud, video_id, f"hls/{video_id}/")
    return video_id


def deleted_events(cloud: LocalCloud, video_id: str) -> list[dict[str, Any]]:
    return [
        event
        for event in map(json.loads, records(cloud, "eventbridge"))
        if event.get("detail-type") == "video.deleted" and event["detail"].get("video_id") == video_id
    ]


def test_delete_removes_every_object_and_the_record(
    http: httpx.Client, cloud: LocalCloud, user: User
) -> None:
    video_id = _uploaded_and_ready(http, cloud, user)
    # A copy left where a visibility move started: the delete must find it too.
    cloud.aws.client("s3").put_object(
        Bucket=cloud.names.bucket("media"), Key=f"public/hls/{video_id}/master.m3u8", Body=b"#EXTM3U\n"
    )
    media_before, uploads_before = bucket_keys(cloud, "media"), bucket_keys(cloud, "uploads")
    ours_media = {k for k in media_before if video_id in k}
    ours_uploads = {k for k in uploads_before if video_id in k}
    assert len(ours_media) == 5
    assert ours_uploads == {f"originals/{video_id}/My-Clip-1-.mp4"}
    response = http.delete(f"{VIDEOS}/{video_id}", headers=user.headers)
    assert response.status_code == 202
    eventually(lambda: http.get(f"{VIDEOS}/{video_id}", headers=user.headers).status_code == 404, timeout=20)
    # The whole buckets, counted: exactly this video's objects went, nothing of it is left anywhere.
    # (Keys that appeared meanwhile are tolerated: other tests' work shares this worker's cloud.)
    media_after, uploads_after = bucket_keys(cloud, "media"), bucket_keys(cloud, "uploads")
    assert media_before - media_after == ours_media
    assert uploads_before - uploads_after == ours_uploads
    assert not {k for k in media_after | uploads_after if video_id in k}
    events = eventually(lambda: deleted_events(cloud, video_id))
    assert set(events[0]["detail"]) == {"video_id", "owner_id"}


def test_deleting_during_a_multipart_upload_aborts_it(
    http: httpx.Client, cloud: LocalCloud, user: User
) -> None:
    size = 12 * MIB
    created = create(http, user, size=size)
    video_id, upload = created["video"]["id"], created["upload"]
    put_parts(created["upload"], b"v" * size, [1, 2])
    uploads_before = bucket_keys(cloud, "uploads")
    assert upload["upload_id"] in open_uploads(cloud)
    assert http.delete(f"{VIDEOS}/{video_id}", headers=user.headers).status_code == 202
    eventually(lambda: http.get(f"{VIDEOS}/{video_id}", headers=user.headers).status_code == 404, timeout=20)
    assert upload["upload_id"] not in open_uploads(cloud)  # its parts are gone with it
    assert not any(video_id in key for key in open_uploads(cloud).values())
    assert uploads_before - bucket_keys(cloud, "uploads") == set()  # nothing else was touched
    eventually(lambda: deleted_events(cloud, video_id))


def delete_executions(cloud: LocalCloud, video_id: str) -> list[str]:
    """The names of the video_delete executions started for this video."""
    sfn = cloud.aws.client("stepfunctions")
    arn = cloud.names.state_machine_arn("video_delete")
    listed = sfn.list_executions(stateMachineArn=arn)["executions"]
    return [e["name"] for e in listed if e["name"].startswith(f"{video_id}-")]


def test_delete_answers_the_truth_and_a_repeat_starts_nothing_new(
    http: httpx.Client, cloud: LocalCloud, user: User
) -> None:
    """Issue 15, finding 3: the 202 says `deleting`, so a read right after must say so too, and a second
    DELETE must not start the saga again. The saga is held at its first step meanwhile, so what the API
    says cannot come from the saga having got there first."""
    video_id = _uploaded_and_ready(http, cloud, user)
    hold = {"pk": {"S": "HOLD"}, "sk": {"S": f"mark_deleting#{video_id}"}}
    ddb = cloud.aws.client("dynamodb")
    ddb.put_item(TableName=cloud.names.table("records"), Item=hold)
    try:
        first = http.delete(f"{VIDEOS}/{video_id}", headers=user.headers)
        assert first.status_code == 202, first.text
        assert first.json()["video"]["status"] == "deleting"
        assert video(http, user, video_id) == first.json()["video"]  # a GET right after: the same video
        second = http.delete(f"{VIDEOS}/{video_id}", headers=user.headers)
        assert (second.status_code, second.json()) == (202, first.json())
        assert len(delete_executions(cloud, video_id)) == 1  # no second saga
    finally:
        ddb.delete_item(TableName=cloud.names.table("records"), Key=hold)
    eventually(lambda: http.get(f"{VIDEOS}/{video_id}", headers=user.headers).status_code == 404, timeout=30)
    assert len(delete_executions(cloud, video_id)) == 1
    assert len(eventually(lambda: deleted_events(cloud, video_id))) == 1


@pytest.mark.parametrize("step", ["mark_deleting", "delete_objects", "publish_deleted", "delete_record"])
def test_a_failed_delete_stays_deleting_with_the_reason_and_a_retry_finishes(
    http: httpx.Client, cloud: LocalCloud, user: User, step: str
) -> None:
    video_id = _uploaded_and_ready(http, cloud, user)
    ours = {k for k in bucket_keys(cloud, "media") | bucket_keys(cloud, "uploads") if video_id in k}
    assert len(ours) == 5
    flag = {"pk": {"S": "FAIL"}, "sk": {"S": f"{step}#{video_id}"}}
    ddb = cloud.aws.client("dynamodb")
    ddb.put_item(TableName=cloud.names.table("records"), Item=flag)
    assert http.delete(f"{VIDEOS}/{video_id}", headers=user.headers).status_code == 202
    stuck = eventually(lambda: (v := video(http, user, video_id))["error"] and v, timeout=30)
    assert stuck["status"] == "deleting"
    assert "Delete it again" in stuck["error"]
    assert f"injected failure in {step}" in stuck["error"]
    left = {k for k in bucket_keys(cloud, "media") | bucket_keys(cloud, "uploads") if video_id in k}
    # Before DeleteObjects, nothing is gone; after it, everything is, and the record says `deleting`.
    assert left == (ours if step in {"mark_deleting", "delete_objects"} else set())
    if step == "delete_record":  # announced before the record went: consumers take it at least once
        eventually(lambda: deleted_events(cloud, video_id))
    else:
        assert deleted_events(cloud, video_id) == []
    ddb.delete_item(TableName=cloud.names.table("records"), Key=flag)
    assert http.delete(f"{VIDEOS}/{video_id}", headers=user.headers).status_code == 202
    eventually(lambda: http.get(f"{VIDEOS}/{video_id}", headers=user.headers).status_code == 404, timeout=30)
    assert not any(video_id in k for k in bucket_keys(cloud, "media") | bucket_keys(cloud, "uploads"))
    eventually(lambda: deleted_events(cloud, video_id))


def test_timestamps_and_shape(http: httpx.Client, user: User) -> None:
    video_out = create(http, user)["video"]
    assert set(video_out) == {
        "id",
        "title",
        "description",
        "tags",
        "visibility",
        "status",
        "progress",
        "duration_s",
        "width",
        "height",
        "renditions",
        "error",
        "playable",
        "version",
        "created_at",
        "updated_at",
    }
    assert video_out["playable"] is False
    assert video_out["created_at"].endswith("Z")


def test_media_follows_visibility_both_ways(http: httpx.Client, cloud: LocalCloud, user: User) -> None:
    video_id = create(http, user, visibility="private")["video"]["id"]
    make_ready(cloud, video_id, f"hls/{video_id}/")
    assert (
        http.patch(f"{VIDEOS}/{video_id}", headers=user.headers, json={"visibility": "public"}).status_code
        == 200
    )

    def playback() -> dict[str, Any]:
        return http.get(f"{VIDEOS}/{video_id}/playback", headers=user.headers).json()  # type: ignore[no-any-return]

    public = eventually(lambda: (p := playback())["expires_at"] is None and p, timeout=20)
    assert httpx.get(public["hls_url"]).status_code == 200  # plain URL, no signature
    # nothing left where signatures were needed (the move is asynchronous: the record can switch first)
    assert eventually(lambda: objects(cloud, "media", f"hls/{video_id}/") == [], timeout=20)
    assert (
        http.patch(f"{VIDEOS}/{video_id}", headers=user.headers, json={"visibility": "private"}).status_code
        == 200
    )
    private = eventually(lambda: (p := playback())["expires_at"] is not None and p, timeout=20)
    # no longer served to anyone, once the move the PATCH started has finished
    assert eventually(lambda: objects(cloud, "media", f"public/hls/{video_id}/") == [], timeout=20)
    assert httpx.get(private["hls_url"]).status_code == 200
    assert httpx.get(f"{cloud.url}/media/hls/{video_id}/master.m3u8").status_code == 403  # no token
    assert httpx.get(public["hls_url"]).status_code == 404  # the public copy is gone


def test_cancel_then_retry(http: httpx.Client, cloud: LocalCloud, user: User) -> None:
    created = create(http, user, size=1024)
    video_id = created["video"]["id"]
    assert (
        http.post(f"{VIDEOS}/{video_id}/transcode/cancel", headers=user.headers).status_code == 409
    )  # not uploaded
    put_file(created["upload"], b"v" * 1024)
    wait_status(http, user, video_id, "uploaded")
    cancelled = http.post(f"{VIDEOS}/{video_id}/transcode/cancel", headers=user.headers)
    assert cancelled.status_code == 202
    assert cancelled.json()["video"]["status"] == "failed"
    assert "cancelled" in cancelled.json()["video"]["error"]
    retried = http.post(f"{VIDEOS}/{video_id}/transcode/retry", headers=user.headers)
    assert retried.status_code == 202
    assert retried.json()["video"]["status"] == "uploaded"
    uploaded_events = eventually(
        lambda: [
            p
            for p in records(cloud, "eventbridge")
            if video_id in p and "video.uploaded" in p and '"retry"' in p
        ]
    )
    assert uploaded_events
    other = sign_up(http)
    assert http.post(f"{VIDEOS}/{video_id}/transcode/cancel", headers=other.headers).status_code == 404


def test_a_failed_upload_cannot_be_retried(http: httpx.Client, cloud: LocalCloud, user: User) -> None:
    created = create(http, user, size=2048)
    # A file of another size (the presigned URL refuses it, so it is written to the key directly).
    key = f"originals/{created['video']['id']}/My-Clip-1-.mp4"
    cloud.aws.client("s3").put_object(Bucket=cloud.names.bucket("uploads"), Key=key, Body=b"v" * 10)
    wait_status(http, user, created["video"]["id"], "failed")
    response = http.post(f"{VIDEOS}/{created['video']['id']}/transcode/retry", headers=user.headers)
    assert response.status_code == 409
    assert "upload" in response.json()["error"]["message"]


# --- the storage quota ------------------------------------------------------------------------------------


def usage_item(cloud: LocalCloud, user: User) -> dict[str, Any]:
    me = httpx.get(f"{cloud.url}/api/v1/auth/me", headers=user.headers).json()
    item = cloud.aws.client("dynamodb").get_item(
        TableName=cloud.names.table("videos"),
        Key={"pk": {"S": f"USAGE#{me['id']}"}, "sk": {"S": "USAGE"}},
        ConsistentRead=True,
    )
    return item.get("Item", {})  # type: ignore[no-any-return]


def test_creates_past_the_storage_quota_are_refused_and_change_nothing(
    http: httpx.Client, cloud: LocalCloud, user: User
) -> None:
    assert STORAGE_QUOTA_BYTES == 48 * MIB
    first = [create(http, user, size=12 * MIB)["video"]["id"] for _ in range(3)]  # 36 MiB reserved
    listed = http.get(VIDEOS, headers=user.headers).json()["items"]
    usage = usage_item(cloud, user)
    uploads_open = open_uploads(cloud)
    body = {
        "title": "x",
        "upload": {"filename": "a.mp4", "content_type": "video/mp4", "size_bytes": 13 * MIB},
    }
    refused = http.post(VIDEOS, headers=user.headers, json=body)
    assert refused.status_code == 403, refused.text
    error = refused.json()["error"]
    assert error["code"] == "quota_exceeded"
    assert "storage quota (free plan) is 48.0 MiB and 36.0 MiB of it is in use" in error["message"]
    assert error["details"][0]["used_bytes"] == 36 * MIB
    # nothing changed: no video, no usage, no multipart upload left open
    assert http.get(VIDEOS, headers=user.headers).json()["items"] == listed
    assert usage_item(cloud, user) == usage
    assert open_uploads(cloud) == uploads_open
    # deleting a video frees its space
    assert http.delete(f"{VIDEOS}/{first[0]}", headers=user.headers).status_code == 202
    eventually(lambda: http.get(f"{VIDEOS}/{first[0]}", headers=user.headers).status_code == 404, timeout=20)
    assert usage_item(cloud, user)["used_bytes"] == {"N": str(24 * MIB)}
    assert http.post(VIDEOS, headers=user.headers, json=body).status_code == 201


def warm(http: httpx.Client, user: User, concurrency: int) -> None:
    """Start as many sandboxes of the authorizer and the videos function as the burst will use: the race
    is what a burst test is about, not cold starts (10 s of them on a loaded machine fail the authorizer)."""
    with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(lambda _: http.get(VIDEOS, headers=user.headers), range(concurrency)))


def test_concurrent_creates_never_exceed_the_quota(http: httpx.Client, cloud: LocalCloud, user: User) -> None:
    body = {
        "title": "x",
        "upload": {"filename": "a.mp4", "content_type": "video/mp4", "size_bytes": 10 * MIB},
    }
    warm(http, user, 8)
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        statuses = list(
            pool.map(lambda _: http.post(VIDEOS, headers=user.headers, json=body).status_code, range(8))
        )
    # The invariant, whatever the machine's load did to single requests (a cold start timing out is a
    # 5xx): at most 4 x 10 MiB exist in 48 MiB, and the usage counts exactly those that do.
    created = len(http.get(VIDEOS, headers=user.headers).json()["items"])
    assert created <= 4, statuses
    assert usage_item(cloud, user)["used_bytes"] == {"N": str(created * 10 * MIB)}
    assert 201 in statuses
    if all(status in {201, 403} for status in statuses):
        assert sorted(statuses) == [201] * 4 + [403] * 4, statuses


def test_an_upload_turns_its_reservation_into_stored_bytes_and_a_wrong_one_frees_it(
    http: httpx.Client, cloud: LocalCloud, user: User
) -> None:
    good, bad = create(http, user, size=2048), create(http, user, size=4096)
    put_file(good["upload"], b"v" * 2048)
    # A file of another size: the presigned URL refuses it (as S3 does), so it is written to the key directly.
    refused = httpx.put(bad["upload"]["url"], content=b"v" * 10, headers={"Content-Type": "video/mp4"})
    assert refused.status_code == 403
    key = f"originals/{bad['video']['id']}/My-Clip-1-.mp4"
    cloud.aws.client("s3").put_object(Bucket=cloud.names.bucket("uploads"), Key=key, Body=b"v" * 10)
    wait_status(http, user, good["video"]["id"], "uploaded")
    wait_status(http, user, bad["video"]["id"], "failed")
    usage = usage_item(cloud, user)
    assert (usage["used_bytes"], usage["stored_bytes"], usage["reserved_bytes"]) == (
        {"N": "2048"},
        {"N": "2048"},
        {"N": "0"},
    )


# --- Idempotency-Key ----------------------------------------------------------------------------------------


def test_a_retried_create_with_the_same_idempotency_key_makes_one_video(
    http: httpx.Client, user: User
) -> None:
    body = {"title": "once", "upload": {"filename": "a.mp4", "content_type": "video/mp4", "size_bytes": 2048}}
    headers = {**user.headers, "Idempotency-Key": "create-once-1"}
    first = http.post(VIDEOS, headers=headers, json=body)
    again = http.post(VIDEOS, headers=headers, json=body)
    assert (first.status_code, again.status_code) == (201, 201), again.text
    assert again.json() == first.json()  # the same video and the same (still valid) upload URL
    assert [v["id"] for v in http.get(VIDEOS, headers=user.headers).json()["items"]] == [
        first.json()["video"]["id"]
    ]
    put_file(again.json()["upload"], b"v" * 2048)  # the replayed URL uploads the file
    wait_status(http, user, first.json()["video"]["id"], "uploaded")
    # the same key with another body: 422, and nothing is created
    other = http.post(VIDEOS, headers=headers, json={**body, "title": "twice"})
    assert other.status_code == 422, other.text
    assert other.json()["error"]["code"] == "validation_failed"
    assert len(http.get(VIDEOS, headers=user.headers).json()["items"]) == 1
    # another user's same key is theirs
    stranger = sign_up(http)
    theirs = http.post(VIDEOS, headers={**stranger.headers, "Idempotency-Key": "create-once-1"}, json=body)
    assert theirs.status_code == 201, theirs.text
    assert theirs.json()["video"]["id"] != first.json()["video"]["id"]
    assert len(http.get(VIDEOS, headers=user.headers).json()["items"]) == 1


def test_concurrent_retries_with_one_idempotency_key_make_one_video(http: httpx.Client, user: User) -> None:
    body = {"title": "once", "upload": {"filename": "a.mp4", "content_type": "video/mp4", "size_bytes": 2048}}
    headers = {**user.headers, "Idempotency-Key": "concurrent-1"}
    warm(http, user, 4)
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        responses = list(pool.map(lambda _: http.post(VIDEOS, headers=headers, json=body), range(4)))
    # 201 (the video, first or replayed) or 409 (the first still in progress); a 5xx is a cold start
    # that timed out on a loaded machine, and must not have made a second video either
    assert {r.status_code for r in responses} <= {201, 409, 500, 503, 504}, [r.text for r in responses]
    ids = {r.json()["video"]["id"] for r in responses if r.status_code == 201}
    assert len(ids) == 1
    assert [v["id"] for v in http.get(VIDEOS, headers=user.headers).json()["items"]] == list(ids)
    bad = http.post(VIDEOS, headers={**user.headers, "Idempotency-Key": "x" * 300}, json=body)
    assert bad.status_code == 400
