"""`Engine` on FFmpeg and PyAV: the pipeline's calls into probe, encoder, chunks and playlists."""

from __future__ import annotations

from pathlib import Path

from functions.transcode import chunks
from functions.transcode.encoder import (
    LadderJob,
    encode_ladder,
    make_poster,
    make_storyboard,
    storyboard_plan,
    storyboard_vtt,
)
from functions.transcode.ladder import Rendition
from functions.transcode.playlists import VariantStats, codecs_of, write_master
from functions.transcode.ports import Progress, ShouldStop
from functions.transcode.probe import SourceInfo, probe


class FFmpegEngine:
    def probe(self, source: Path | str, size: int | None = None) -> SourceInfo:
        return probe(source, size=size)

    def segment_codecs(self, segment: Path) -> str:
        return codecs_of(segment)

    def encode_ladder(
        self,
        source: Path | str,
        out: Path,
        info: SourceInfo,
        renditions: list[Rendition],
        on_progress: Progress,
        should_stop: ShouldStop,
    ) -> list[VariantStats]:
        job = LadderJob(source, out, info, tuple(renditions), live=True, pictures=True)
        encode_ladder(job, on_progress, should_stop)
        for r in renditions:  # the EVENT playlists, complete (ENDLIST), become the final VOD ones
            playlist = out / r.name / "index.m3u8"
            playlist.write_text(
                playlist.read_text().replace("#EXT-X-PLAYLIST-TYPE:EVENT", "#EXT-X-PLAYLIST-TYPE:VOD")
            )
        (out / "storyboard.vtt").write_text(
            storyboard_vtt(storyboard_plan(info), info.duration_s, "storyboard.jpg")
        )
        return write_master(out, renditions, info.fps)

    def encode_chunk(
        self,
        source: Path | str,
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
        self, source: Path | str, out: Path, duration_s: float, on_progress: Progress, should_stop: ShouldStop
    ) -> VariantStats:
        chunks.encode_audio(source, out, duration_s, on_progress, should_stop)
        return chunks.audio_stats(out)

    def make_pictures(self, source: Path | str, info: SourceInfo, out: Path) -> None:
        make_poster(source, info, out / "poster.jpg")
        make_storyboard(source, info, out / "storyboard.jpg", out / "storyboard.vtt", "storyboard.jpg")
