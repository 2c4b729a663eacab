"""HTTP entry of the videos function: the catalogue, uploads and playback."""

# No `from __future__ import annotations` here: powertools reads route annotations at runtime.
from http import HTTPStatus
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.shared.api import create_resolver, json_response
from functions.shared.contract import PROTECTED, documented, link
from functions.shared.observability import logger, metrics, tracer
from functions.shared.principal import Caller, caller_from
from functions.shared.vocabulary import API_PREFIX
from functions.videos import idempotency, wiring
from functions.videos.models import (
    CompleteUploadRequest,
    CreatedVideo,
    CreateVideoRequest,
    Playback,
    Status,
    UpdateVideoRequest,
    UploadProgress,
    VideoEnvelope,
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
    operation_id="createVideo",
    summary="Create a video and get where to upload its file",
    tags=["videos"],
    description=(
        "Send an `Idempotency-Key` header (any unique string, up to 255 characters) to make retries "
        "safe: a create with the same key within 24 h returns the first response, not a second video; "
        "the same key with a different body is a 422."
    ),
    responses=documented(
        201,
        CreatedVideo,
        "Created (or, with a known Idempotency-Key, the first create's response)",
        links={
            op: link(op, f"{op} the video just created", video_id="$response.body#/video/id")
            for op in (
                "getVideo",
                "updateVideo",
                "deleteVideo",
                "getUploadProgress",
                "completeUpload",
                "abortUpload",
                "getPlayback",
                "retryTranscode",
                "cancelTranscode",
            )
        },
        body=True,
        protected=True,
        errors={
            403: "Past the account's storage quota (`quota_exceeded`), or a scope it lacks (`forbidden`)",
            409: "A create with this Idempotency-Key is still in progress",
            413: "The file is over the account's size limit, or the body over 10 MB (`payload_too_large`)",
            415: "The upload's `content_type` is not a video type we accept, or the body is not JSON",
            422: "Invalid, or an Idempotency-Key already used with another body (`validation_failed`)",
        },
    ),
    security=PROTECTED,
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
    operation_id="listVideos",
    summary="List your videos (scope=mine) or the public catalogue (scope=public), newest first",
    tags=["videos"],
    responses=documented(
        200,
        VideoList,
        "A page of videos; pass `next_cursor` as `cursor` for the next",
        protected=True,
        errors={400: "`cursor` is not one this API returned for this listing (`malformed_request`)"},
    ),
    security=PROTECTED,
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


@app.get(
    f"{VIDEOS}/<video_id>",
    operation_id="getVideo",
    summary="A video",
    tags=["videos"],
    responses=documented(200, VideoOut, "The video", path=True, protected=True),
    security=PROTECTED,
)
def get_video(video_id: str) -> VideoOut:
    return wiring.service().get(video_id, _caller())


@app.patch(
    f"{VIDEOS}/<video_id>",
    operation_id="updateVideo",
    summary="Change a video's details (send `version` to refuse lost updates)",
    tags=["videos"],
    responses=documented(
        200,
        VideoOut,
        "The video as changed",
        body=True,
        path=True,
        protected=True,
        errors={409: "`version` is not the current one (`conflict`), or the video is being deleted"},
    ),
    security=PROTECTED,
)
def update_video(video_id: str, body: UpdateVideoRequest) -> VideoOut:
    return wiring.service().update(video_id, body, _caller())


@app.delete(
    f"{VIDEOS}/<video_id>",
    operation_id="deleteVideo",
    summary="Delete a video and every file of it (asynchronous)",
    tags=["videos"],
    description="Safe to repeat: a video already being deleted answers 202 again and starts nothing new.",
    responses=documented(
        202,
        VideoEnvelope,
        "Deletion started, or already under way (a repeat): the video, `status` `deleting`",
        path=True,
        protected=True,
        errors={409: "The video cannot be deleted in its current state (`conflict`)"},
    ),
    security=PROTECTED,
)
def delete_video(video_id: str) -> Response[str]:
    video = wiring.service().start_delete(video_id, _caller())
    return json_response(HTTPStatus.ACCEPTED, {"video": video.model_dump(mode="json")})


@app.post(
    f"{VIDEOS}/<video_id>/transcode/retry",
    operation_id="retryTranscode",
    summary="Process a failed video again",
    tags=["videos"],
    responses=documented(
        202,
        VideoEnvelope,
        "Processing will start again",
        path=True,
        protected=True,
        errors={409: "The video is not failed, or has no uploaded file (`conflict`)"},
    ),
    security=PROTECTED,
)
def retry_transcode(video_id: str) -> Response[str]:
    video = wiring.service().retry_transcode(video_id, _caller())
    return json_response(HTTPStatus.ACCEPTED, {"video": video.model_dump(mode="json")})


@app.post(
    f"{VIDEOS}/<video_id>/transcode/cancel",
    operation_id="cancelTranscode",
    summary="Stop processing a video",
    tags=["videos"],
    responses=documented(
        202,
        VideoEnvelope,
        "Processing is being stopped",
        path=True,
        protected=True,
        errors={409: "The video is not being processed (`conflict`)"},
    ),
    security=PROTECTED,
)
def cancel_transcode(video_id: str) -> Response[str]:
    video = wiring.service().cancel_transcode(video_id, _caller())
    return json_response(HTTPStatus.ACCEPTED, {"video": video.model_dump(mode="json")})


@app.get(
    f"{VIDEOS}/<video_id>/upload",
    operation_id="getUploadProgress",
    summary="Resume an upload: parts received and URLs for the rest",
    tags=["uploads"],
    responses=documented(
        200,
        UploadProgress,
        "What arrived, and fresh URLs for what is missing",
        path=True,
        protected=True,
        errors={409: "The video is not awaiting its upload (`conflict`)"},
    ),
    security=PROTECTED,
)
def upload_progress(video_id: str) -> UploadProgress:
    return wiring.service().upload_progress(video_id, _caller())


@app.post(
    f"{VIDEOS}/<video_id>/upload/complete",
    operation_id="completeUpload",
    summary="Assemble a multipart upload",
    tags=["uploads"],
    responses=documented(
        200,
        VideoOut,
        "The upload is assembled; processing starts",
        body=True,
        path=True,
        protected=True,
        errors={409: "Not an open multipart upload, or a part is missing (`conflict`)"},
    ),
    security=PROTECTED,
)
def complete_upload(video_id: str, body: CompleteUploadRequest) -> VideoOut:
    return wiring.service().complete_upload(video_id, body, _caller())


@app.post(
    f"{VIDEOS}/<video_id>/upload/abort",
    operation_id="abortUpload",
    summary="Abandon a multipart upload: S3 drops its parts and the video fails (delete it or create it again)",
    tags=["uploads"],
    responses=documented(
        200,
        VideoOut,
        "The upload is abandoned; the video is failed",
        path=True,
        protected=True,
        errors={409: "Not an open multipart upload (a single PUT, or already completed)"},
    ),
    security=PROTECTED,
)
def abort_upload(video_id: str) -> VideoOut:
    return wiring.service().abort_upload(video_id, _caller())


@app.get(
    f"{VIDEOS}/<video_id>/playback",
    operation_id="getPlayback",
    summary="Playback URLs: plain if the video is public, else carrying a playback token in the path",
    tags=["videos"],
    responses=documented(
        200,
        Playback,
        "Where to play the video from",
        path=True,
        protected=True,
        errors={409: "The video is not ready yet (`conflict`)"},
    ),
    security=PROTECTED,
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
