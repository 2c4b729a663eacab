"""The transcode domain (functions/transcode): the FFmpeg container that writes the HLS ladder, a step
of the videos domain's publish workflow."""

from __future__ import annotations

from infra.model import Access, Domain, Function, Grant, Packaging

transcode = Function(
    id="transcode",
    handler="functions.transcode.handler.lambda_handler",
    description="Probe, encode the HLS ladder from one decode, poster and storyboard; stream them to media",
    memory_mb=10240,  # the most CPU Lambda gives (about 6 vCPUs): x264 uses every core
    timeout_s=900,
    tables=(Grant("videos", Access.READ_WRITE),),  # progress, and the cancel check
    buckets=(Grant("uploads", Access.READ), Grant("media")),
    buses=("events",),
    packaging=Packaging.IMAGE,  # FFmpeg and PyAV are too big for a zip
    local_concurrency=2,  # one encode already takes every core of a laptop
)

DOMAIN = Domain(name="transcode", functions=(transcode,))
