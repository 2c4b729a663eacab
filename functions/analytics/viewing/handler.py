"""HTTP entry of viewer analytics: the player's beacon, and the owner's reads of the read models."""

# No `from __future__ import annotations` here: powertools reads route annotations at runtime.
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.analytics.viewing import wiring
from functions.analytics.viewing.models import TOKEN_HEADER, Beacon, BeaconReceipt, Overview, VideoAnalytics
from functions.analytics.viewing.settings import ViewsApiSettings
from functions.shared.api import create_resolver, json_response
from functions.shared.contract import OPTIONAL, PROTECTED, documented
from functions.shared.observability import count, logger, metrics, tracer
from functions.shared.principal import caller_from, caller_or_anonymous
from functions.shared.vocabulary import API_PREFIX

Settings = ViewsApiSettings

app = create_resolver()
ANALYTICS = f"{API_PREFIX}/analytics"


@app.post(
    f"{API_PREFIX}/videos/<video_id>/views",
    operation_id="sendViewBeacon",
    summary="The player's beacon: report a playback session's progress and quality",
    tags=["analytics"],
    description=(
        "Send it every few seconds while playing and when playback ends; repeats are expected (a view is "
        "one `session_id`, and `watched_s` and `rebuffer_ms` are cumulative). Signed in (bearer or API key "
        "with `videos:read`) for a video you may watch, or with no credentials: for a public video, or "
        f"with the video's playback token in the `{TOKEN_HEADER}` header (the `<kid>.<expires>.<signature>` "
        "segment of its playback URL), as an embedded player does. A video you may not watch is 404."
    ),
    responses=documented(
        202,
        BeaconReceipt,
        "Recorded (or already recorded: the same beacon is the same event)",
        body=True,
        path=True,
        protected=True,
        errors={
            401: "Credentials were sent and are not valid (`unauthenticated`)",
            409: "The video cannot play yet, or the session has reported its last beacon (`conflict`)",
            422: "Out of range, a rendition the video does not have, or unknown fields (`validation_failed`)",
        },
    ),
    security=OPTIONAL,
)
def send_beacon(video_id: str, body: Beacon) -> Response[str]:
    caller = caller_or_anonymous(app.current_event.request_context.raw_event)
    headers = {k.lower(): v for k, v in (app.current_event.headers or {}).items()}
    receipt = wiring.beacons().record(video_id, body, caller, headers.get(TOKEN_HEADER.lower()))
    count("ViewBeaconDuplicate" if receipt.duplicate else "ViewBeacon")
    return json_response(HTTPStatus.ACCEPTED, receipt.model_dump(mode="json"))


@app.get(
    f"{ANALYTICS}/videos/<video_id>",
    operation_id="getVideoAnalytics",
    summary="Your video's viewer analytics: views, unique viewers, watch time, startup, rebuffering",
    tags=["analytics"],
    responses=documented(200, VideoAnalytics, "The video's numbers", path=True, protected=True),
    security=PROTECTED,
)
def video_analytics(video_id: str) -> VideoAnalytics:
    return wiring.reader().video(video_id, caller_from(app.current_event.request_context.raw_event))


@app.get(
    f"{ANALYTICS}/overview",
    operation_id="getAnalyticsOverview",
    summary="Your viewer analytics over all your videos",
    tags=["analytics"],
    responses=documented(200, Overview, "Your totals", protected=True),
    security=PROTECTED,
)
def overview() -> Overview:
    return wiring.reader().overview(caller_from(app.current_event.request_context.raw_event))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, log_event=False)
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    wiring.api_settings()  # the whole environment, checked on the sandbox's first invocation
    return app.resolve(event, context)
