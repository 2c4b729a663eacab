"""The viewer-analytics API's requests and responses; the rules the server enforces are stated on fields."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from functions.analytics.viewing.sketch import RELATIVE_ACCURACY

# A session lasts at most a day of watching; a larger cumulative `watched_s` is not a playback.
MAX_WATCHED_S = 86_400
# A session's read model holds each of its distinct beacons (~100 bytes) in one DynamoDB item (400 KB at
# most): 3,000 is a beacon every 10 s for over 8 hours. The next one is refused, so none is ever stored.
MAX_SESSION_BEACONS = 3_000
MAX_STARTUP_MS = 600_000  # ten minutes to the first frame is a failure, not a startup time
MAX_REBUFFER_MS = 86_400_000
PLAYER_ID = r"^[A-Za-z0-9_-]{8,64}$"
RENDITION = r"^[0-9]{2,4}p$"  # the transcoder's ladder names (functions/transcode/ladder.py)
ERROR_CODE = r"^[A-Za-z0-9_.:-]{1,64}$"
TOKEN_HEADER = "X-Playback-Token"  # noqa: S105 - the header's name, not a token


class Beacon(BaseModel):
    """What the player sends about one playback session, every few seconds and when it ends. Repeats are
    expected: a view is one session, and its numbers are cumulative."""

    model_config = ConfigDict(extra="forbid")

    session_id: str = Field(
        pattern=PLAYER_ID, description="The player's id for this playback session", examples=["s8f3k2m9q1"]
    )
    watched_s: float = Field(
        ge=0,
        le=MAX_WATCHED_S,
        allow_inf_nan=False,
        description="Seconds of video played in this session so far (cumulative, never reset)",
        examples=[42.5],
    )
    rendition: str = Field(
        pattern=RENDITION,
        description="The rendition playing now; one of the video's renditions, else 422",
        examples=["720p"],
    )
    startup_ms: int | None = Field(
        default=None, ge=0, le=MAX_STARTUP_MS, description="Time from play to the first frame", examples=[850]
    )
    rebuffer_ms: int | None = Field(
        default=None,
        ge=0,
        le=MAX_REBUFFER_MS,
        description="Time spent stalled in this session so far (cumulative)",
        examples=[1200],
    )
    error: str | None = Field(
        default=None,
        pattern=ERROR_CODE,
        description="A playback error's code: the view failed",
        examples=[None],
    )
    viewer_id: str | None = Field(
        default=None,
        pattern=PLAYER_ID,
        description="An anonymous player's own viewer id (kept across sessions); ignored when signed in",
        examples=["v0a9b8c7d6e5"],
    )


class BeaconReceipt(BaseModel):
    event_id: str = Field(description="The event the beacon is stored as; a repeated beacon gets the same id")
    duplicate: bool = Field(description="This exact beacon was already recorded (nothing changes)")


class StartupTimes(BaseModel):
    sessions: int = Field(description="Sessions that reported a startup time")
    p50_ms: float | None
    p95_ms: float | None
    relative_accuracy: float = Field(
        default=RELATIVE_ACCURACY, description="DDSketch: each percentile is within this relative error"
    )


class RenditionShare(BaseModel):
    rendition: str
    watch_time_s: float
    share: float = Field(description="Of the video's watch time, 0..1")


class ViewerNumbers(BaseModel):
    views: int = Field(description="Playback sessions")
    unique_viewers: int = Field(description="Distinct signed-in users and anonymous viewer ids")
    watch_time_s: float
    startup: StartupTimes
    rebuffer_ratio: float = Field(description="Stalled time over stalled plus watched time, 0..1")
    failures: int = Field(description="Sessions that reported an error")
    renditions: list[RenditionShare] = Field(description="Watch time per rendition, largest first")


class VideoAnalytics(ViewerNumbers):
    video_id: str


class Overview(ViewerNumbers):
    videos_watched: int = Field(description="Your videos with at least one view")
