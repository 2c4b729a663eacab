"""The video catalogue: records, direct-to-S3 uploads (single and resumable multipart), playback URLs,
and the delete saga."""
