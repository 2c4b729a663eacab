"""Data access for viewer analytics: the event store's and the read models' key layouts live here only.

The event store (`view_events` table, append-only, with a stream the projector reads):
    VIDEO#<video id>          EVENT#<event id>           one distinct beacon (put only if absent)
    VIDEO#<video id>          SESSION#<viewer>#<session> how many distinct beacons the session holds

The read models (in the analytics table, under the `VIEWS#` prefix; the profile and usage items are other
prefixes):
    VIEWS#VIDEO#<video id>    TOTALS                     the video's numbers
    VIEWS#VIDEO#<video id>    SESSION#<viewer>#<session> a view: its distinct beacons (`points`)
    VIEWS#OWNER#<user id>     TOTALS                     the owner's numbers over all their videos
    VIEWS#OWNER#<user id>     VIEWER#<viewer>            one viewer of the owner's videos
    VIEWS#VIEWER#<viewer>     VIDEO#<video id>           a viewer's history of one video

Every item is the plain serialisation of its record (sorted maps, no write time), so a replay writes the
same bytes the projector wrote.
"""

from __future__ import annotations

import dataclasses
import functools
import random
import time
from collections.abc import Iterable, Iterator
from typing import Any

from botocore.exceptions import ClientError

from functions.analytics.viewing.ports import (
    ConcurrentWriteError,
    OwnerViewer,
    Point,
    Record,
    Session,
    SessionFullError,
    Totals,
    ViewerVideo,
    ViewEvent,
    WatchableVideo,
    Write,
    record_key,
)
from functions.shared import aws
from functions.shared.dependency import dependency
from functions.shared.dynamo import cancellation_reasons, from_item, key, to_item
from functions.shared.errors import DependencyUnavailableError
from functions.shared.media_token import MediaKeys, TokenRejected, check
from functions.videos.dal import VideoRepository
from functions.videos.models import Status, Visibility

PREFIX = "VIEWS#"
TRANSACT_ATTEMPTS = 5
_BATCH_GET = 100
_BATCH_WRITE = 25

# --- the event store ---------------------------------------------------------------------------------------


def event_item(event: ViewEvent) -> dict[str, Any]:
    return {**key(f"VIDEO#{event.video_id}", f"EVENT#{event.event_id}"), **to_item(dataclasses.asdict(event))}


def event_from_image(image: dict[str, Any] | None) -> ViewEvent | None:
    """A stream record's (or a scan's) item as an event; None for anything that is not one."""
    if not image or not image.get("sk", {}).get("S", "").startswith("EVENT#"):
        return None
    values = from_item(image)
    fields: dict[str, Any] = {f.name: values.get(f.name) for f in dataclasses.fields(ViewEvent)}
    return ViewEvent(**fields)


class EventTable:
    """The append-only event store: each event is put only if absent, in one transaction with its session's
    count of distinct events, which may not pass the cap (the count is never in an event's stream image)."""

    def __init__(self, table_name: str) -> None:
        self.table = table_name

    def append(self, event: ViewEvent, session_cap: int) -> bool:
        counter = key(f"VIDEO#{event.video_id}", f"SESSION#{event.viewer}#{event.session_id}")
        items: list[dict[str, Any]] = [
            {
                "Put": {
                    "TableName": self.table,
                    "Item": event_item(event),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
            {
                "Update": {
                    "TableName": self.table,
                    "Key": counter,
                    "UpdateExpression": "ADD events :one",
                    "ConditionExpression": "attribute_not_exists(events) OR events < :cap",
                    "ExpressionAttributeValues": {":one": {"N": "1"}, ":cap": {"N": str(session_cap)}},
                }
            },
        ]
        for attempt in range(TRANSACT_ATTEMPTS):
            try:
                with dependency("the view event store"):
                    aws.dynamodb().transact_write_items(TransactItems=items)  # type: ignore[arg-type]
                return True
            except ClientError as exc:
                event_check, session_check = [*cancellation_reasons(exc), "None", "None"][:2]
                if event_check == "ConditionalCheckFailed":
                    return False  # stored already: a duplicate, whatever the count says
                if session_check == "ConditionalCheckFailed":
                    raise SessionFullError(event.session_id) from exc
                if "TransactionConflict" not in (event_check, session_check):
                    raise DependencyUnavailableError("The view event store did not answer.") from exc
                time.sleep(random.uniform(0.01, 0.05) * 2**attempt)  # noqa: S311 - jitter, not a secret
        raise DependencyUnavailableError("The view event store kept answering with a conflict.")

    def all_events(self) -> Iterator[ViewEvent]:
        pages = aws.dynamodb().get_paginator("scan").paginate(TableName=self.table)
        with dependency("the view event store"):
            for page in pages:
                for item in page["Items"]:
                    event = event_from_image(item)
                    if event is not None:
                        yield event


# --- the read models ------------------------------------------------------------------------------------


def item_key(record_id: tuple[str, ...]) -> dict[str, Any]:
    kind, *parts = record_id
    if kind == "session":
        video_id, session_id, viewer = parts
        return key(f"{PREFIX}VIDEO#{video_id}", f"SESSION#{viewer}#{session_id}")
    if kind == "video":
        return key(f"{PREFIX}VIDEO#{parts[0]}", "TOTALS")
    if kind == "owner":
        return key(f"{PREFIX}OWNER#{parts[0]}", "TOTALS")
    if kind == "viewer_video":
        viewer, video_id = parts
        return key(f"{PREFIX}VIEWER#{viewer}", f"VIDEO#{video_id}")
    owner_id, viewer = parts
    return key(f"{PREFIX}OWNER#{owner_id}", f"VIEWER#{viewer}")


_KINDS: dict[str, type[Record]] = {
    "session": Session,
    "totals": Totals,
    "viewer_video": ViewerVideo,
    "owner_viewer": OwnerViewer,
}


def _kind(record: Record) -> str:
    return next(name for name, cls in _KINDS.items() if isinstance(record, cls))


def _sorted(values: dict[str, Any]) -> dict[str, Any]:
    return {k: values[k] for k in sorted(values)}


def record_item(record: Record) -> dict[str, Any]:
    values = dataclasses.asdict(record)
    if isinstance(record, Session):
        values["points"] = {
            eid: {k: v for k, v in dataclasses.asdict(p).items() if v is not None}
            for eid, p in sorted(record.points.items())
        }
    if isinstance(record, Totals):
        values["startup"], values["renditions"] = _sorted(record.startup), _sorted(record.renditions)
    return {**item_key(record_key(record)), "record": {"S": _kind(record)}, **to_item(values)}


def record_from_item(item: dict[str, Any]) -> Record:
    values = from_item(item)
    cls = _KINDS[values.pop("record")]
    values.pop("pk")
    values.pop("sk")
    if cls is Session:
        values["points"] = {
            eid: Point(
                watched_ms=p["watched_ms"],
                rendition=p["rendition"],
                startup_ms=p.get("startup_ms"),
                rebuffer_ms=p.get("rebuffer_ms"),
                error=p.get("error"),
                at=p["at"],
            )
            for eid, p in values["points"].items()
        }
    return cls(**values)


class ReadModelTable:
    """The read models in the analytics table; written by the one projector, read by the API."""

    def __init__(self, table_name: str) -> None:
        self.table = table_name

    def get(self, record_id: tuple[str, ...]) -> Record | None:
        with dependency("the analytics table"):
            found = aws.dynamodb().get_item(
                TableName=self.table, Key=item_key(record_id), ConsistentRead=True
            )
        return record_from_item(found["Item"]) if "Item" in found else None

    def get_many(self, record_ids: Iterable[tuple[str, ...]]) -> dict[tuple[str, ...], Record]:
        wanted = list(dict.fromkeys(record_ids))
        found: dict[tuple[str, ...], Record] = {}
        for start in range(0, len(wanted), _BATCH_GET):
            keys = [item_key(r) for r in wanted[start : start + _BATCH_GET]]
            request: dict[str, Any] = {self.table: {"Keys": keys, "ConsistentRead": True}}
            while request:
                with dependency("the analytics table"):
                    answer = aws.dynamodb().batch_get_item(RequestItems=request)
                for item in answer["Responses"].get(self.table, []):
                    record = record_from_item(item)
                    found[record_key(record)] = record
                request = answer.get("UnprocessedKeys") or {}
        return found

    def commit(self, writes: list[Write]) -> None:
        items = [self._put(w) for w in writes]
        for attempt in range(TRANSACT_ATTEMPTS):
            try:
                with dependency("the analytics table"):
                    aws.dynamodb().transact_write_items(TransactItems=items)  # type: ignore[arg-type]
                return
            except ClientError as exc:
                reasons = cancellation_reasons(exc)
                if "ConditionalCheckFailed" in reasons:
                    raise ConcurrentWriteError("a read model changed since it was read") from exc
                if "TransactionConflict" not in reasons or attempt == TRANSACT_ATTEMPTS - 1:
                    raise
                time.sleep(random.uniform(0.01, 0.05) * 2**attempt)  # noqa: S311 - jitter, not a secret

    def _put(self, write: Write) -> dict[str, Any]:
        put: dict[str, Any] = {"TableName": self.table, "Item": record_item(write.record)}
        if write.expected_events is None:
            put["ConditionExpression"] = "attribute_not_exists(pk)"
        else:
            put["ConditionExpression"] = "#e = :e"
            put["ExpressionAttributeNames"] = {"#e": "events"}
            put["ExpressionAttributeValues"] = {":e": {"N": str(write.expected_events)}}
        return {"Put": put}

    def _scan(self, projection: str | None = None) -> Iterator[dict[str, Any]]:
        args: dict[str, Any] = {
            "TableName": self.table,
            "FilterExpression": "begins_with(pk, :p)",
            "ExpressionAttributeValues": {":p": {"S": PREFIX}},
        }
        if projection:
            args["ProjectionExpression"] = projection
        with dependency("the analytics table"):
            for page in aws.dynamodb().get_paginator("scan").paginate(**args):
                yield from page["Items"]

    def all_records(self) -> Iterator[Record]:
        for item in self._scan():
            yield record_from_item(item)

    def items(self) -> list[dict[str, Any]]:
        """Every read-model item as stored, sorted by key (what a replay test compares byte for byte)."""
        return sorted(self._scan(), key=lambda i: (i["pk"]["S"], i["sk"]["S"]))

    def replace_all(self, records: Iterable[Record]) -> None:
        """Put every record, then delete the stored ones the new set does not have: readers never see
        the read models empty, only (for the length of a replay) a mix of old and rebuilt items."""
        stale = {(i["pk"]["S"], i["sk"]["S"]) for i in self._scan("pk, sk")}
        puts = []
        for record in records:
            item = record_item(record)
            stale.discard((item["pk"]["S"], item["sk"]["S"]))
            puts.append({"PutRequest": {"Item": item}})
        deletes = [{"DeleteRequest": {"Key": key(pk, sk)}} for pk, sk in sorted(stale)]
        self._batch_write(puts + deletes)

    def _batch_write(self, requests: list[dict[str, Any]]) -> None:
        for start in range(0, len(requests), _BATCH_WRITE):
            pending: dict[str, Any] = {self.table: requests[start : start + _BATCH_WRITE]}
            attempt = 0
            while pending:
                with dependency("the analytics table"):
                    answer = aws.dynamodb().batch_write_item(RequestItems=pending)
                pending = answer.get("UnprocessedItems") or {}
                if pending:
                    attempt += 1
                    time.sleep(min(1.0, 0.02 * 2**attempt))


# --- what the beacon needs from elsewhere ----------------------------------------------------------------


class VideoCatalogue:
    """`VideoCatalogue` over the videos table, through the videos domain's own data access."""

    def __init__(self, table_name: str) -> None:
        self.repo = VideoRepository(table_name)

    def get(self, video_id: str) -> WatchableVideo | None:
        video = self.repo.get(video_id)
        if video is None:
            return None
        return WatchableVideo(
            id=video.id,
            owner_id=video.owner_id,
            public=video.visibility is Visibility.PUBLIC and video.status is not Status.DELETING,
            plays=video.plays_from() is not None,
            renditions=frozenset(str(r["name"]) for r in video.renditions if r.get("name")),
        )


class TokenKeys:
    """`PlaybackTokens` with the media key set (the secret the videos function signs with). Read once per
    sandbox, and again (at most once a minute) for a key id it does not know: a rotation adds a key."""

    REFRESH_EVERY_S = 60.0

    def __init__(self, secret_id: str) -> None:
        self.secret_id = secret_id
        self._read_at = 0.0

    @functools.cached_property
    def _keys(self) -> MediaKeys:
        self._read_at = time.monotonic()
        with dependency("the media key set"):
            value = aws.secrets().get_secret_value(SecretId=self.secret_id)["SecretString"]
        return MediaKeys.from_json(value)

    def opens(self, token: str, video_id: str) -> bool:
        wanted = f"hls/{video_id}/master.m3u8"
        for attempt in range(2):
            try:
                # The key the token opens must be this video's: a "token" carrying its own "/hls/<other>"
                # would otherwise be checked against that other video's scope.
                return check(f"{token}/{wanted}", self._keys.keys) == wanted
            except TokenRejected as rejected:
                stale = time.monotonic() - self._read_at > self.REFRESH_EVERY_S
                if attempt or str(rejected) != "unknown key id" or not stale:
                    return False
                del self._keys
        return False
