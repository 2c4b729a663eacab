"""The search issue's figures, in one run, against the local cloud's S3 (moto over HTTP).

- Index build: `--videos` (100,000) generated videos (bench/search_data.py) written as one version by the
  indexer's writer (documents/s), and the size of what it put on S3.
- Cold container: a fresh reader's first answer, the download of every index file and the open included.
- Queries in-process: p50/p95 of `text` and `fuzzy` (visibility filter, field weights and highlights
  included) through the search use case, against a naive scan in the same run: rapidfuzz's WRatio over
  every visible record's text, as a simple service without an index would do (fewer queries: it is slow).
- Through the front door: GET /api/v1/search with an API key, the same index published to the local cloud.
- Freshness: a video created through the API until the owner finds it (the stream, the indexer's new
  version, the reader's reload), warm.
- Quality: recall@5 and MRR per class on the quality set (at least 100 queries with known answers).

    python -m bench.search [--videos 100000] [--queries 300] [--scan-queries 30]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from rapidfuzz import fuzz, process

from bench.auth import Client, _sign_up
from bench.search_data import Catalogue, score_quality
from bench.stats import line, percentile
from functions.search.documents import document_for
from functions.search.logic import SearchService
from functions.search.models import Algorithm
from functions.search.replica import ReadReplica, WriteReplica
from functions.search.storage import S3IndexFiles
from functions.search.strategies import typos_allowed
from functions.shared import aws
from functions.videos.models import Status, Visibility
from infra.local.cloud import LOCAL_CREDENTIALS, LocalCloud, free_port
from infra.topology import TOPOLOGY


def _percentiles(samples: list[float]) -> tuple[float, float]:
    return percentile(samples, 50), percentile(samples, 95)


def _queries(catalogue: Catalogue, count: int, seed: int = 3) -> list[tuple[str, str, str]]:
    """(caller, text, algorithm): one or two title words of a random video, the last one cut short half
    the time (type-ahead); for `fuzzy`, a long word gets a typo."""
    rng = random.Random(seed)
    out = []
    for n in range(count):
        video = rng.choice(catalogue.videos)
        words = video.title.lower().split()[: rng.randint(1, 2)]
        algorithm = "fuzzy" if n % 2 else "text"
        if algorithm == "fuzzy" and typos_allowed(words[-1]):
            i = rng.randrange(1, len(words[-1]) - 1)
            words[-1] = words[-1][:i] + words[-1][i + 1] + words[-1][i] + words[-1][i + 2 :]
        elif rng.random() < 0.5 and len(words[-1]) > 4:
            words[-1] = words[-1][: len(words[-1]) - 2]
        out.append((rng.choice(catalogue.owners), " ".join(words), algorithm))
    return out


def _naive_scan(catalogue: Catalogue, caller: str, text: str) -> list[Any]:
    """A service without an index: filter what the caller may see, then fuzzy-score every record."""
    visible = [
        f"{v.title} {' '.join(v.tags)} {v.description}"
        for v in catalogue.videos
        if v.owner_id == caller or (v.visibility is Visibility.PUBLIC and v.status is Status.READY)
    ]
    return process.extract(text, visible, scorer=fuzz.WRatio, limit=10)


def run(videos: int = 100_000, queries: int = 300, scan_queries: int = 30) -> None:
    print(f"search: {videos:,} generated videos")
    catalogue = Catalogue(videos)
    documents = [d for d in (document_for(v) for v in catalogue.videos) if d is not None]
    scratch = Path(tempfile.mkdtemp(prefix="bench-search-"))
    with LocalCloud(TOPOLOGY, port=free_port(), log_sink=lambda s, line: None) as cloud:
        saved = dict(os.environ)
        os.environ.update({**LOCAL_CREDENTIALS, "AWS_ENDPOINT_URL": cloud.aws_endpoint})
        aws.reset_clients()
        files = S3IndexFiles(cloud.names.bucket("search_index"))
        try:
            _figures(cloud, catalogue, documents, files, scratch, queries, scan_queries)
        finally:
            os.environ.clear()
            os.environ.update(saved)
            aws.reset_clients()
            shutil.rmtree(scratch, ignore_errors=True)


def _figures(
    cloud: LocalCloud,
    catalogue: Catalogue,
    documents: list[Any],
    files: S3IndexFiles,
    scratch: Path,
    queries: int,
    scan_queries: int,
) -> None:
    # Build: one version with every document, as a rebuild makes it.
    started = time.perf_counter()
    count = WriteReplica(files, scratch / "writer").replace_all(documents)
    build_s = time.perf_counter() - started
    manifest = files.manifest()
    assert manifest is not None
    size = sum((scratch / "writer" / "work" / name).stat().st_size for name in manifest.files)
    print(
        f"  index build                                  {count / build_s:9.0f} documents/s ({build_s:.1f} s, upload included)"
    )
    print(
        f"  index size on S3                             {size / 2**20:9.1f} MiB in {len(manifest.files)} files"
    )

    # Cold container: download, open, first answer.
    workload = _queries(catalogue, queries)
    started = time.perf_counter()
    service = SearchService(ReadReplica(files, scratch / "cold", check_every_s=3600))
    caller, text, algorithm = workload[0]
    service.search(caller, text, Algorithm(algorithm), 10)
    cold_ms = (time.perf_counter() - started) * 1000
    warm = [_time(service, caller, text, algorithm) for _ in range(20)]
    print(
        line("cold container's first answer (load included)", cold_ms, percentile(warm, 50))
        + "  (baseline: warm)"
    )

    # In-process, against the naive scan.
    timings: dict[str, list[float]] = {"text": [], "fuzzy": []}
    for caller, text, algorithm in workload:
        timings[algorithm].append(_time(service, caller, text, algorithm))
    scan = []
    for caller, text, _ in workload[:scan_queries]:
        started = time.perf_counter()
        _naive_scan(catalogue, caller, text)
        scan.append((time.perf_counter() - started) * 1000)
    scan_p50, scan_p95 = _percentiles(scan)
    for algorithm, samples in timings.items():
        p50, p95 = _percentiles(samples)
        print(line(f"in-process {algorithm} p50", p50, scan_p50) + "  (baseline: naive rapidfuzz scan)")
        print(
            line(f"in-process {algorithm} p95", p95, scan_p95) + f"  (scan is {scan_p95 / p95:,.0f}x slower)"
        )

    # Through the front door: the same index, published to the cloud the API reads.
    client = Client(cloud.port)
    _, token, key = _sign_up(client)
    front: dict[str, list[float]] = {"text": [], "fuzzy": [], "health": []}
    client.call("GET", "/api/v1/search?q=warm", headers={"X-API-Key": key}, expect=200)
    last_started = time.perf_counter()
    # The key's account is on the free plan (50 requests/s, burst 100): pace under it, or a quiet machine
    # is throttled (429) rather than timed. Latency is per request, so pacing does not flatter it.
    pace_s = 1 / 40
    for caller, text, algorithm in workload:
        del caller  # the API's caller is the key's owner: others' public videos are what it finds
        path = "/api/v1/search?" + urlencode({"q": text, "algorithm": algorithm})
        time.sleep(max(0.0, pace_s - (time.perf_counter() - last_started)))
        started = last_started = time.perf_counter()
        client.call("GET", path, headers={"X-API-Key": key}, expect=200)
        front[algorithm].append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        client.call("GET", "/api/v1/health")  # timed only: a slow probe may make it 503 on a busy machine
        front["health"].append((time.perf_counter() - started) * 1000)
    health_p50, health_p95 = _percentiles(front["health"])
    for algorithm in ("text", "fuzzy"):
        p50, p95 = _percentiles(front[algorithm])
        print(line(f"front door {algorithm} p50", p50, health_p50) + "  (baseline: GET /health)")
        print(line(f"front door {algorithm} p95", p95, health_p95))

    # Freshness: create through the API until the owner finds it.
    fresh = []
    auth = {"Authorization": f"Bearer {token}"}
    for _ in range(5):
        word = "fresh" + "".join(random.choice("abcdefghij") for _ in range(8))
        body = {"title": word, "upload": {"filename": "a.mp4", "content_type": "video/mp4", "size_bytes": 10}}
        started = time.perf_counter()
        client.call("POST", "/api/v1/videos", body, auth, expect=201)
        while not json.loads(client.call("GET", f"/api/v1/search?q={word}", headers=auth, expect=200)[1])[
            "results"
        ]:
            time.sleep(0.02)
            if time.perf_counter() - started > 30:
                raise AssertionError("a new video did not show in search within 30 s")
        fresh.append((time.perf_counter() - started) * 1000)
    print(
        line("create -> searchable (through the stream) p50", percentile(fresh, 50), 2000)
        + "  (baseline: the 2 s goal)"
    )

    # Quality.
    quality_set = catalogue.quality_set(per_class=25)
    if len(quality_set) < 100:
        raise SystemExit(f"the quality set has {len(quality_set)} queries; the issue asks for at least 100")
    ranked = {
        q: [
            h.video_id
            for h in service.search("nobody" + uuid.uuid4().hex, q.text, Algorithm(q.algorithm), 10).results
        ]
        for q in quality_set
    }
    for quality in score_quality(ranked):
        print(
            f"  quality {quality.kind:<12} {quality.queries:4d} queries   recall@5 {quality.recall_at_5:.3f}   MRR {quality.mrr:.3f}"
        )


def _time(service: SearchService, caller: str, text: str, algorithm: str) -> float:
    started = time.perf_counter()
    service.search(caller, text, Algorithm(algorithm), 10)
    return (time.perf_counter() - started) * 1000


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--videos", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--scan-queries", type=int, default=30)
    args = parser.parse_args()
    run(args.videos, args.queries, args.scan_queries)
