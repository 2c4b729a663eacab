"""Fakes of the ports in functions/shared."""

from __future__ import annotations

from typing import Any

from functions.shared.domain_events import DomainEvent


class RecordingEvents:
    """`functions.shared.events.Events` that keeps what was published, in order, as the bus carries it
    (detail-type, and the detail as JSON would give it back)."""

    def __init__(self) -> None:
        self.published: list[tuple[str, dict[str, Any]]] = []
        self.events: list[DomainEvent] = []

    def publish(self, event: DomainEvent) -> None:
        self.events.append(event)
        self.published.append((event.detail_type, event.model_dump(mode="json")))

    def of_type(self, detail_type: str) -> list[dict[str, Any]]:
        return [detail for kind, detail in self.published if kind == detail_type]
