"""Playback tokens: one set of vectors run against the CloudFront Function (node) and the Python check, so
the edge and the local front door cannot drift; plus the signer making exactly the vectors' tokens."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from functions.shared.media_token import (
    MEDIA_PATH,
    PUBLIC_PREFIX,
    SIGNED_PATH,
    MediaKeys,
    TokenRejected,
    check,
    media_key,
    new_media_keys,
    scope_for,
    sign,
)
from infra.model import ROOT
from infra.topology import TOPOLOGY

VECTORS_PATH = Path(__file__).with_name("media_token_vectors.json")
VECTORS: dict[str, Any] = json.loads(VECTORS_PATH.read_text())
FUNCTION = ROOT / "infra/aws/functions/media_token.js"
HARNESS = Path(__file__).with_name("media_token_harness.mjs")
CASES = VECTORS["cases"]


def python_outcome(uri: str) -> dict[str, Any]:
    if not uri.startswith(MEDIA_PATH):
        return {"status": 403}
    try:
        key = media_key(uri[len(MEDIA_PATH) :], VECTORS["keys"], now=VECTORS["now"])
    except TokenRejected:
        return {"status": 403}
    return {"status": 200, "origin_uri": f"/{key}"}


@pytest.fixture(scope="module")
def js_outcomes() -> dict[str, dict[str, Any]]:
    if shutil.which("node") is None:
        pytest.fail("node is needed to run the CloudFront Function against the vectors")
    out = subprocess.run(
        ["node", str(HARNESS), str(FUNCTION), str(VECTORS_PATH)],
        check=True,
        capture_output=True,
        text=True,
        timeout=30,
    ).stdout
    return {r.pop("name"): r for r in json.loads(out)}


def test_the_vectors_cover_every_kind_of_case() -> None:
    names = " ".join(c["name"] for c in CASES)
    for kind in (
        "valid",
        "expired",
        "tampered",
        "another video",
        "another path",
        "traversal",
        "unknown key",
        "malformed",
    ):
        assert kind in names, kind
    assert len({c["name"] for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_python_check(case: dict[str, Any]) -> None:
    assert python_outcome(case["uri"]) == case["expect"]


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_cloudfront_function(case: dict[str, Any], js_outcomes: dict[str, dict[str, Any]]) -> None:
    outcome = dict(js_outcomes[case["name"]])
    if outcome["status"] == 200:
        assert outcome.pop("querystring") == {}  # nothing of the viewer's query reaches S3
    assert outcome == case["expect"]


@pytest.mark.parametrize("signed", VECTORS["signed"], ids=lambda s: s["token"][:12])
def test_the_signer_makes_the_vectors_tokens(signed: dict[str, Any]) -> None:
    keys = MediaKeys(signed["kid"], VECTORS["keys"])
    assert sign(keys, signed["video_id"], signed["expires"]) == signed["token"]


def test_a_fresh_key_set_round_trips_and_signs() -> None:
    keys = new_media_keys()
    assert MediaKeys.from_json(keys.to_json()) == keys
    token = sign(keys, "abc", 2_000_000_000)
    assert check(f"{token}/hls/abc/master.m3u8", keys.keys, now=1_999_999_999) == "hls/abc/master.m3u8"


@pytest.mark.parametrize(
    "value",
    [
        "",
        "{}",
        '{"active_kid": "m1", "keys": {}}',
        '{"active_kid": "m1", "keys": {"m1": "short"}}',
        '{"active_kid": "m.1", "keys": {"m.1": "' + "a" * 43 + '"}}',
    ],
)
def test_a_malformed_key_set_is_refused(value: str) -> None:
    with pytest.raises((ValueError, KeyError, TypeError)):
        MediaKeys.from_json(value)


@pytest.mark.parametrize("video_id", ["", "a/b", "..", "a.b", "x" * 65])
def test_only_plain_video_ids_are_signed(video_id: str) -> None:
    with pytest.raises(ValueError, match="not a video id"):
        scope_for(video_id)


def test_the_topology_serves_media_where_the_token_rule_expects() -> None:
    media = TOPOLOGY.media
    assert media is not None
    assert (media.path_prefix, media.signed_path, media.public_key_prefixes) == (
        MEDIA_PATH,
        SIGNED_PATH,
        (PUBLIC_PREFIX,),
    )
