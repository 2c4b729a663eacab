"""Fakes of the ports in functions/shared."""

from __future__ import annotations

from typing import Any


class RecordingEvents:
    """`functions.shared.events.Events` that keeps what was published, in order."""

    def __init__(self) -> None:
        self.published: list[tuple[str, dict[str, Any]]] = []

    def publish(self, detail_type: str, detail: dict[str, Any]) -> None:
        self.published.append((detail_type, dict(detail)))

    def of_type(self, detail_type: str) -> list[dict[str, Any]]:
        return [detail for kind, detail in self.published if kind == detail_type]
