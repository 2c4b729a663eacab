"""The domain events are the contract between publishers and consumers: what the topology's rules match
and what the state machines read is what the models publish."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from functions.shared import domain_events
from functions.shared.domain_events import DomainEvent, VideoUploaded, VideoVisibilityChanged
from functions.shared.events import source_of
from infra.topology import TOPOLOGY

ROOT = Path(__file__).resolve().parents[2]
MODELS = [
    m
    for m in vars(domain_events).values()
    if isinstance(m, type) and issubclass(m, DomainEvent) and "detail_type" in m.__dict__
]


def test_every_rule_matches_an_event_some_model_publishes() -> None:
    published = {(f"skyreel.{m.domain}", m.detail_type) for m in MODELS}
    for rule in TOPOLOGY.rules:
        sources = rule.pattern.get("source", [])
        types = rule.pattern.get("detail-type", [])
        assert isinstance(sources, list)
        assert isinstance(types, list)
        assert any((s, t) in published for s in sources for t in types), rule.id


def test_the_publish_workflow_reads_only_fields_video_uploaded_has() -> None:
    definition = (ROOT / "infra/workflows/publish.asl.json").read_text()
    read = set(re.findall(r"\$\.detail\.([a-z_]+)", definition))
    assert read, "the publish workflow reads the uploaded event's detail"
    assert read <= set(VideoUploaded.model_fields), read - set(VideoUploaded.model_fields)


def test_an_event_goes_out_under_its_domain_and_type() -> None:
    event = VideoVisibilityChanged(video_id="v1", owner_id="u1", visibility="public")
    assert (source_of(event), event.detail_type) == ("skyreel.videos", "video.visibility_changed")


def test_a_detail_missing_a_field_or_carrying_an_unknown_one_is_refused() -> None:
    with pytest.raises(ValidationError):
        VideoVisibilityChanged.model_validate({"video_id": "v1", "visibility": "public"})
    with pytest.raises(ValidationError):
        VideoVisibilityChanged.model_validate(
            {"video_id": "v1", "owner_id": "u1", "visibility": "public", "surprise": 1}
        )
