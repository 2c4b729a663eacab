"""The transcode function (a container image in AWS; the pip-installed FFmpeg locally).

Input {"video_id", "key", "media_prefix"}: stream the original to /tmp, probe it, encode the ladder
from one decode, write the master playlist, poster and storyboard, stream them to the media bucket,
and return what was made. Failures raise with a reason the publish workflow turns into the video's
`error`; partial outputs are removed by its MarkFailed step.
"""

from __future__ import annotations

import functools
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from boto3.s3.transfer import TransferConfig
from pydantic import Field

from functions.shared import aws
from functions.shared.config import EnvironmentModel
from functions.shared.events import EventPublisher
from functions.shared.observability import logger
from functions.transcode.encoder import LadderJob, encode_ladder, make_poster, make_storyboard
from functions.transcode.ladder import ladder
from functions.transcode.outputs import upload_tree
from functions.transcode.playlists import write_master
from functions.transcode.probe import probe
from functions.transcode.progress import ProgressReporter

# Streamed to disk with a bounded queue: boto3's default download buffers more the larger the file, and
# memory must stay flat whatever the source's size.
DOWNLOAD = TransferConfig(
    multipart_threshold=16 * 2**20,
    multipart_chunksize=8 * 2**20,
    max_concurrency=4,
    max_io_queue=8,
    io_chunksize=256 * 1024,
)


class TranscodeSettings(EnvironmentModel):
    videos_table: str = Field(alias="VIDEOS_TABLE_NAME")
    uploads_bucket: str = Field(alias="UPLOADS_BUCKET_NAME")
    media_bucket: str = Field(alias="MEDIA_BUCKET_NAME")
    event_bus: str = Field(alias="EVENTS_EVENT_BUS_NAME")
    work_dir: str = Field(default=tempfile.gettempdir(), alias="TRANSCODE_WORK_DIR")


class TranscodeCancelledError(Exception):
    pass


@functools.cache
def settings() -> TranscodeSettings:
    loaded = TranscodeSettings.from_environment()
    assert isinstance(loaded, TranscodeSettings)
    return loaded


def transcode(video_id: str, key: str, media_prefix: str) -> dict[str, Any]:
    s = settings()
    events = EventPublisher(s.event_bus, "videos")
    reporter = ProgressReporter(s.videos_table, video_id, events.publish)
    work = Path(tempfile.mkdtemp(prefix=f"transcode-{video_id}-", dir=s.work_dir))
    try:
        source = work / "source"
        aws.s3().download_file(s.uploads_bucket, key, str(source), Config=DOWNLOAD)
        info = probe(source)
        renditions = ladder(info)
        reporter.report(0.02)
        out = work / "out"
        job = LadderJob(source, out, info, tuple(renditions))
        encode_ladder(
            job, on_progress=lambda f: reporter.report(0.02 + 0.88 * f), should_stop=reporter.should_stop
        )
        stats = write_master(out, renditions, info.fps)
        make_poster(source, info, out / "poster.jpg")
        make_storyboard(source, info, out / "storyboard.jpg", out / "storyboard.vtt", "storyboard.jpg")
        reporter.report(0.92)
        if reporter.should_stop():
            raise TranscodeCancelledError(video_id)
        uploaded = upload_tree(aws.s3(), out, s.media_bucket, media_prefix)
        logger.info(
            "transcoded",
            extra={
                "video_id": video_id,
                "objects": uploaded,
                "rungs": len(renditions),
                "duration_s": info.duration_s,
            },
        )
        return {
            "media_prefix": media_prefix,
            "duration_s": round(info.duration_s, 3),
            "width": info.width,
            "height": info.height,
            "renditions": [
                {
                    "name": st.rendition.name,
                    "width": st.rendition.width,
                    "height": st.rendition.height,
                    "bandwidth": st.peak_bps,
                    "average_bandwidth": st.average_bps,
                    "codecs": st.codecs,
                }
                for st in stats
            ],
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


@logger.inject_lambda_context(log_event=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    os.environ.setdefault("TMPDIR", settings().work_dir)
    return transcode(event["video_id"], event["key"], event["media_prefix"])
