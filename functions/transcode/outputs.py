"""Streaming the outputs to the media bucket from disk (never whole files in memory), each with the
Content-Type players need and a Cache-Control that fits it: segments never change, playlists may."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from boto3.s3.transfer import TransferConfig

TYPES = {
    ".m3u8": ("application/vnd.apple.mpegurl", "public, max-age=60"),
    ".ts": ("video/mp2t", "public, max-age=31536000, immutable"),
    ".jpg": ("image/jpeg", "public, max-age=86400"),
    ".vtt": ("text/vtt", "public, max-age=86400"),
}
# Multipart above 16 MiB, 8 MiB chunks: memory stays at a few chunks whatever the file size.
_TRANSFER = TransferConfig(multipart_threshold=16 * 2**20, multipart_chunksize=8 * 2**20, max_concurrency=4)


# A playlist that still grows while its video encodes (EVENT): a player reloads it every segment.
LIVE_PLAYLIST_CACHE = "public, max-age=1"


def headers(path: Path, live: bool = False) -> dict[str, str]:
    content_type, cache = TYPES.get(path.suffix, ("application/octet-stream", "public, max-age=3600"))
    if live and path.suffix == ".m3u8":
        cache = LIVE_PLAYLIST_CACHE
    return {"ContentType": content_type, "CacheControl": cache}


def upload_files(
    s3: Any, files: list[tuple[Path, str]], bucket: str, live: bool = False, workers: int = 8
) -> None:
    """(local file, key) pairs, in parallel; all written when this returns."""

    def put(item: tuple[Path, str]) -> None:
        path, key = item
        s3.upload_file(str(path), bucket, key, Config=_TRANSFER, ExtraArgs=headers(path, live))

    if len(files) == 1:
        put(files[0])
        return
    with ThreadPoolExecutor(min(workers, max(1, len(files)))) as pool:
        list(pool.map(put, files))


def upload_tree(s3: Any, local_root: Path, bucket: str, prefix: str, workers: int = 8) -> int:
    files = sorted(p for p in local_root.rglob("*") if p.is_file())
    for batch in upload_order(files):
        upload_files(
            s3, [(p, prefix + p.relative_to(local_root).as_posix()) for p in batch], bucket, workers=workers
        )
    return len(files)


def upload_order(files: list[Path]) -> tuple[list[Path], list[Path], list[Path]]:
    """Media, then variant playlists, then the master: a player that finds a playlist must find every
    segment it names, and one that finds the master must find every variant."""
    media = [f for f in files if f.suffix != ".m3u8"]
    playlists = [f for f in files if f.suffix == ".m3u8" and f.name != "master.m3u8"]
    master = [f for f in files if f.name == "master.m3u8"]
    return media, playlists, master
