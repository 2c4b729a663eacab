"""HTTP entry of the videos function: the catalogue, uploads and playback."""

# No `from __future__ import annotations` here: powertools reads route annotations at runtime.
from http import HTTPStatus
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.shared.api import create_resolver, json_response
from functions.shared.observability import logger, metrics, tracer
from functions.shared.principal import Caller, caller_from
from functions.shared.vocabulary import API_PREFIX
from functions.videos import idempotency, wiring
from functions.videos.models import (
    CompleteUploadRequest,
    CreateVideoRequest,
    Status,
    UpdateVideoRequest,
    UploadProgress,
    VideoList,
    VideoOut,
    Visibility,
)
from functions.videos.settings import ApiSettings

Settings = ApiSettings  # this function's environment (functions/videos/settings.py)

app = create_resolver()
VIDEOS = f"{API_PREFIX}/videos"


def _caller() -> Caller:
    return caller_from(app.current_event.request_context.raw_event)


@app.post(
    VIDEOS,
    summary="Create a video and get where to upload its file",
    tags=["videos"],
    description=(
        "Send an `Idempotency-Key` header (any unique string, up to 255 characters) to make retries "
        "safe: a create with the same key within 24 h returns the first response, not a second video; "
        "the same key with a different body is a 422."
    ),
    responses={
        201: {"description": "Created (or, with a known Idempotency-Key, the first create's response)"},
        403: {"description": "Past the account's storage quota (`quota_exceeded`)"},
        409: {"description": "A create with this Idempotency-Key is still in progress"},
        413: {"description": "Too large"},
        415: {"description": "Not a video type"},
        422: {"description": "Invalid, or an Idempotency-Key already used with another body"},
    },
)
def create_video(body: CreateVideoRequest) -> Response[str]:
    caller = _caller()

    def create() -> dict[str, Any]:
        created = wiring.service().create(body, caller)
        # The video keeps every field (nulls included, as the contract lists them); the upload shows only
        # the fields of its method (a URL for PUT, parts for multipart).
        return {
            "video": created.video.model_dump(mode="json"),
            "upload": created.upload.model_dump(mode="json", exclude_none=True),
        }

    key = idempotency.key_from(app.current_event.headers)
    payload = create() if key is None else wiring.idempotent_creates().create_once(caller, key, body, create)
    return json_response(HTTPStatus.CREATED, payload)


@app.get(
    VIDEOS,
    summary="List your videos (scope=mine) or the public catalogue (scope=public), newest first",
    tags=["videos"],
)
def list_videos(
    scope: Annotated[str, Query(pattern="^(mine|public)$")] = "mine",
    status: Annotated[Status | None, Query()] = None,
    tag: Annotated[str | None, Query(max_length=40)] = None,
    visibility: Annotated[Visibility | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=2000)] = None,
) -> VideoList:
    return wiring.service().list(
        _caller(), scope, limit, cursor, status, tag.lower() if tag else None, visibility
    )


@app.get(f"{VIDEOS}/<video_id>", summary="A video", tags=["videos"])
def get_video(video_id: str) -> VideoOut:
    return wiring.service().get(video_id, _caller())


@app.patch(
    f"{VIDEOS}/<video_id>",
    summary="Change a video's details (send `version` to refuse lost updates)",
    tags=["videos"],
)
def update_video(video_id: str, body: UpdateVideoRequest) -> VideoOut:
    return wiring.service().update(video_id, body, _caller())


@app.delete(
    f"{VIDEOS}/<video_id>",
    summary="Delete a video and every file of it (asynchronous)",
    tags=["videos"],
    responses={202: {"description": "Deletion started"}},
)
def delete_video(video_id: str) -> Response[str]:
    video = wiring.service().start_delete(video_id, _caller())
    return json_response(HTTPStatus.ACCEPTED, {"video": video.model_dump(mode="json")})


@app.post(
    f"{VIDEOS}/<video_id>/transcode/retry",
    summary="Process a failed video again",
    tags=["videos"],
    responses={202: {"description": "Processing will start again"}},
)
def retry_transcode(video_id: str) -> Response[str]:
    video = wiring.service().retry_transcode(video_id, _caller())
    return json_response(HTTPStatus.ACCEPTED, {"video": video.model_dump(mode="json")})


@app.post(
    f"{VIDEOS}/<video_id>/transcode/cancel",
    summary="Stop processing a video",
    tags=["videos"],
    responses={202: {"description": "Processing is being stopped"}},
)
def cancel_transcode(video_id: str) -> Response[str]:
    video = wiring.service().cancel_transcode(video_id, _caller())
    return json_response(HTTPStatus.ACCEPTED, {"video": video.model_dump(mode="json")})


@app.get(
    f"{VIDEOS}/<video_id>/upload",
    summary="Resume an upload: parts received and URLs for the rest",
    tags=["uploads"],
)
def upload_progress(video_id: str) -> UploadProgress:
    return wiring.service().upload_progress(video_id, _caller())


@app.post(f"{VIDEOS}/<video_id>/upload/complete", summary="Assemble a multipart upload", tags=["uploads"])
def complete_upload(video_id: str, body: CompleteUploadRequest) -> VideoOut:
    return wiring.service().complete_upload(video_id, body, _caller())


@app.post(
    f"{VIDEOS}/<video_id>/upload/abort",
    summary="Abandon a multipart upload: S3 drops its parts and the video fails (delete it or create it again)",
    tags=["uploads"],
    responses={409: {"description": "Not an open multipart upload (a single PUT, or already completed)"}},
)
def abort_upload(video_id: str) -> VideoOut:
    return wiring.service().abort_upload(video_id, _caller())


@app.get(
    f"{VIDEOS}/<video_id>/playback",
    summary="Playback URLs: plain if the video is public, else carrying a playback token in the path",
    tags=["videos"],
)
def playback(video_id: str) -> Response[str]:
    urls = wiring.service().playback(video_id, _caller())
    return json_response(
        HTTPStatus.OK, urls.model_dump(mode="json"), headers={"Cache-Control": "private, no-store"}
    )


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, log_event=False)
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    wiring.settings(Settings)  # the whole environment, checked on the sandbox's first invocation
    idempotency.register(context)
    return app.resolve(event, context)
