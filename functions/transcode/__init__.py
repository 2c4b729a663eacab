"""Transcoding: probe a source, encode the adaptive HLS ladder from one decode in one FFmpeg process,
then a poster and a storyboard. The pipeline around it (workflow, uploads, status) builds on these."""
