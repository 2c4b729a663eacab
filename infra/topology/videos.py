"""The videos domain (functions/videos): the catalogue and its API, uploads and their notifications,
the publish and delete workflows, visibility moves of media, and the upload sweeper."""

from __future__ import annotations

from functions.shared.vocabulary import API_PREFIX, Scope
from infra.model import (
    Bucket,
    Cors,
    Domain,
    EventRule,
    Function,
    Grant,
    Index,
    Queue,
    QueueTrigger,
    Route,
    S3ToQueue,
    ScheduleTrigger,
    Secret,
    SecretKind,
    StateMachine,
)
from infra.topology.tables import GSI1, domain_table

MEDIA_BUCKET = "media"
VIDEOS = f"{API_PREFIX}/videos"
READ, WRITE = Scope.VIDEOS_READ.value, Scope.VIDEOS_WRITE.value

videos = Function(
    id="videos",
    handler="functions.videos.handler.lambda_handler",
    description="The video catalogue: create with an upload, list, get, update, delete, playback URLs",
    memory_mb=512,
    timeout_s=29,
    tables=(Grant("videos"),),
    buckets=(Grant("uploads"),),
    buses=("events",),
    state_machines=("video_delete",),
)

videos_ingest = Function(
    id="videos_ingest",
    handler="functions.videos.ingest.lambda_handler",
    description="Upload notifications: check the arrived file against the declared one, mark it uploaded",
    memory_mb=256,
    timeout_s=60,
    tables=(Grant("videos"),),
    buckets=(Grant("uploads"),),
    buses=("events",),
)

videos_delete_steps = Function(
    id="videos_delete_steps",
    handler="functions.videos.deletion.lambda_handler",
    description="The delete saga's steps: mark deleting, remove every object (paged), remove the record",
    memory_mb=512,
    timeout_s=300,
    tables=(Grant("videos"),),
    buckets=(Grant("uploads"), Grant(MEDIA_BUCKET)),
    buses=("events",),
)

videos_sweeper = Function(
    id="videos_sweeper",
    handler="functions.videos.sweeper.lambda_handler",
    description="Fails videos whose upload never completed, and aborts their multipart uploads",
    memory_mb=256,
    timeout_s=120,
    tables=(Grant("videos"),),
    buckets=(Grant("uploads"),),
)

videos_media = Function(
    id="videos_media",
    handler="functions.videos.media.lambda_handler",
    description="Moves a video's media to where the CDN serves its new visibility (public/ or signed)",
    memory_mb=256,
    timeout_s=300,
    tables=(Grant("videos"),),
    buckets=(Grant(MEDIA_BUCKET),),
)

videos_publish_steps = Function(
    id="videos_publish_steps",
    handler="functions.videos.publishing.lambda_handler",
    description="The publish workflow's record steps: claim an upload once, mark ready, mark failed",
    memory_mb=256,
    timeout_s=60,
    tables=(Grant("videos"),),
    buckets=(Grant(MEDIA_BUCKET),),
    buses=("events",),
)

DOMAIN = Domain(
    name="videos",
    functions=(
        videos,
        videos_ingest,
        videos_delete_steps,
        videos_sweeper,
        videos_media,
        videos_publish_steps,
    ),
    routes=(
        Route("POST", VIDEOS, videos.id, scope=WRITE),
        Route("GET", VIDEOS, videos.id, scope=READ),
        Route("GET", f"{VIDEOS}/{{video_id}}", videos.id, scope=READ),
        Route("PATCH", f"{VIDEOS}/{{video_id}}", videos.id, scope=WRITE),
        Route("DELETE", f"{VIDEOS}/{{video_id}}", videos.id, scope=WRITE),
        Route("GET", f"{VIDEOS}/{{video_id}}/upload", videos.id, scope=WRITE),
        Route("POST", f"{VIDEOS}/{{video_id}}/upload/complete", videos.id, scope=WRITE),
        Route("POST", f"{VIDEOS}/{{video_id}}/upload/abort", videos.id, scope=WRITE),
        Route("GET", f"{VIDEOS}/{{video_id}}/playback", videos.id, scope=READ),
        Route("POST", f"{VIDEOS}/{{video_id}}/transcode/retry", videos.id, scope=WRITE),
        Route("POST", f"{VIDEOS}/{{video_id}}/transcode/cancel", videos.id, scope=WRITE),
    ),
    # gsi1 = a user's videos, newest first; gsi2 = the public catalogue (sparse: public videos only);
    # gsi3 = uploads still awaited, by deadline (sparse), for the sweeper.
    tables=(
        domain_table(
            "videos",
            (GSI1, Index("gsi2", "gsi2pk", "gsi2sk"), Index("gsi3", "gsi3pk", "gsi3sk")),
            stream=True,
        ),
    ),
    buckets=(
        # Browsers PUT straight to presigned URLs, so the uploads bucket needs CORS for PUT and the ETag.
        Bucket(
            id="uploads",
            cors=Cors(allowed_methods=("PUT", "POST", "GET", "HEAD"), exposed_headers=("ETag",)),
            abort_incomplete_multipart_days=1,
        ),
        Bucket(id=MEDIA_BUCKET, cors=Cors(exposed_headers=("ETag", "Content-Length", "Content-Range"))),
    ),
    queues=(Queue(id="ingest", visibility_timeout_s=120, max_receive_count=5),),
    queue_triggers=(QueueTrigger("ingest", videos_ingest.id, batch_size=10),),
    schedules=(ScheduleTrigger("expire_uploads", videos_sweeper.id, every_minutes=5),),
    s3_to_queue=(S3ToQueue(bucket="uploads", queue="ingest", prefix="originals/"),),
    rules=(
        EventRule(
            "publish_uploads",
            "events",
            {"source": ["skyreel.videos"], "detail-type": ["video.uploaded"]},
            state_machine="publish",
        ),
        EventRule(
            "media_follows_visibility",
            "events",
            {"source": ["skyreel.videos"], "detail-type": ["video.visibility_changed"]},
            function=videos_media.id,
        ),
    ),
    secrets=(
        Secret(
            id="media_token_keys",
            description="HMAC keys with ids that sign playback tokens; the CDN's key value store holds the same",
            kind=SecretKind.MEDIA_TOKEN_KEYS,
        ),
    ),
    state_machines=(
        StateMachine(
            id="publish",
            definition="infra/workflows/publish.asl.json",
            functions=(videos_publish_steps.id, "transcode"),
            timeout_s=3600,
        ),
        StateMachine(
            id="video_delete",
            definition="infra/workflows/video_delete.asl.json",
            functions=(videos_delete_steps.id,),
            timeout_s=3600,
        ),
    ),
)
