"""The delete saga's shape: the record is removed last, and every step's failure is recorded on it.

The behaviour (a failure injected into each step, then DELETE again) is proven through the local cloud in
tests/integration/test_videos.py and the steps themselves in tests/logic/test_videos_delete.py; this pins
the order that behaviour depends on.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from infra.topology import TOPOLOGY

ROOT = Path(__file__).resolve().parents[2]


def _definition() -> dict[str, Any]:
    machine = next(m for m in TOPOLOGY.state_machines if m.id == "video_delete")
    return json.loads((ROOT / machine.definition).read_text())  # type: ignore[no-any-return]


def _happy_path(states: dict[str, Any], start: str) -> list[str]:
    path, name = [], start
    while name:
        path.append(name)
        name = states[name].get("Next")
    return path


def test_the_record_is_deleted_last_after_video_deleted_is_published() -> None:
    definition = _definition()
    states = definition["States"]
    path = _happy_path(states, definition["StartAt"])
    assert path == ["MarkDeleting", "DeleteObjects", "PublishDeleted", "DeleteRecord", "Deleted"]
    steps = [states[name]["Parameters"]["step"] for name in path[:-1]]
    assert steps == ["mark_deleting", "delete_objects", "publish_deleted", "delete_record"]


@pytest.mark.parametrize("state", ["MarkDeleting", "DeleteObjects", "PublishDeleted", "DeleteRecord"])
def test_every_step_records_its_failure_on_the_video(state: str) -> None:
    states = _definition()["States"]
    catches = states[state].get("Catch", [])
    assert [(c["ErrorEquals"], c["Next"], c["ResultPath"]) for c in catches] == [
        (["States.ALL"], "RecordFailure", "$.error")
    ]
    assert states["RecordFailure"]["Parameters"]["step"] == "record_failure"
    assert states[states["RecordFailure"]["Next"]]["Type"] == "Fail"
