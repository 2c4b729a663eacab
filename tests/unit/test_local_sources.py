"""The local cloud's schedule timer: when it fires and what it sends."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from infra.local.runtime import InvocationError
from infra.local.sources import ScheduleTimer, scheduled_event
from infra.model import ScheduleTrigger

SAMPLE = Path(__file__).resolve().parents[2] / "events" / "eventbridge-scheduled.json"


class RecordingRuntime:
    """Stands in for the sandbox runtime: the timer's contract is only `invoke(function_id, event)`."""

    def __init__(self, fail: bool = False) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.fail = fail

    def invoke(self, function_id: str, event: dict[str, Any]) -> None:
        self.calls.append((function_id, event))
        if self.fail:
            raise InvocationError("Runtime.ExitError", "boom")


def test_the_event_has_the_shape_eventbridge_sends() -> None:
    sample = json.loads(SAMPLE.read_text())
    event = scheduled_event(ScheduleTrigger("expire_uploads", "videos_sweeper", every_minutes=5))
    assert set(event) == set(sample)
    for same in ("detail-type", "source", "account", "region", "resources", "detail"):
        assert event[same] == sample[same]
    assert time.strptime(event["time"], "%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize("fail", [False, True])
def test_the_timer_invokes_its_function_every_period_and_survives_failures(
    monkeypatch: pytest.MonkeyPatch, fail: bool
) -> None:
    monkeypatch.setenv("SKYREEL_LOCAL_SCHEDULE_SCALE", str(0.5 / 60))  # one minute becomes 0.5 s
    runtime, stop = RecordingRuntime(fail=fail), threading.Event()
    timer = ScheduleTimer(ScheduleTrigger("tick", "sweeper", every_minutes=1), runtime, stop)  # type: ignore[arg-type]
    assert timer.period_s == 0.5
    timer.start()
    time.sleep(1.8)
    stop.set()
    timer.join(timeout=2)
    assert not timer.is_alive()
    assert 2 <= len(runtime.calls) <= 4  # about one every 0.5 s, none before the first period ends
    assert {fid for fid, _ in runtime.calls} == {"sweeper"}
    assert len({event["id"] for _, event in runtime.calls}) == len(runtime.calls)  # each run is a new event


def test_the_period_never_drops_below_half_a_second(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SKYREEL_LOCAL_SCHEDULE_SCALE", "0")
    timer = ScheduleTimer(
        ScheduleTrigger("tick", "sweeper", every_minutes=5), RecordingRuntime(), threading.Event()
    )  # type: ignore[arg-type]
    assert timer.period_s == 0.5
