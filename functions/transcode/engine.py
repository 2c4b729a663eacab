"""`Engine` on FFmpeg and PyAV: the pipeline's calls into probe, encoder, chunks and playlists."""

from __future__ import annotations

from pathlib import Path

from functions.transcode import chunks
from functions.transcode.encoder import LadderJob, encode_ladder, make_poster, make_storyboard
from functions.transcode.ladder import Rendition
from functions.transcode.playlists import VariantStats, codecs_of, write_master
from functions.transcode.ports import Progress, ShouldStop
from functions.transcode.probe import SourceInfo, probe


class FFmpegEngine:
    def probe(self, source: Path) -> SourceInfo:
        return probe(source)

    def encode_ladder(
        self,
        source: Path,
        out: Path,
        info: SourceInfo,
        renditions: list[Rendition],
        on_progress: Progress,
        should_stop: ShouldStop,
    ) -> list[VariantStats]:
        encode_ladder(LadderJob(source, out, info, tuple(renditions)), on_progress, should_stop)
        return write_master(out, renditions, info.fps)

    def encode_chunk(
        self,
        source: Path,
        out: Path,
        info: SourceInfo,
        renditions: list[Rendition],
        chunk: chunks.Chunk,
        on_progress: Progress,
        should_stop: ShouldStop,
    ) -> dict[str, str]:
        chunks.encode_chunk(LadderJob(source, out, info, tuple(renditions)), chunk, should_stop, on_progress)
        return {r.name: codecs_of(out / r.name / f"seg_{chunk.first_segment:05d}.ts") for r in renditions}

    def encode_audio(
        self, source: Path, out: Path, duration_s: float, on_progress: Progress, should_stop: ShouldStop
    ) -> VariantStats:
        chunks.encode_audio(source, out, duration_s, on_progress, should_stop)
        return chunks.audio_stats(out)

    def make_pictures(self, source: Path, info: SourceInfo, out: Path) -> None:
        make_poster(source, info, out / "poster.jpg")
        make_storyboard(source, info, out / "storyboard.jpg", out / "storyboard.vtt", "storyboard.jpg")
