"""Publishing domain events to the platform's EventBridge bus."""

from __future__ import annotations

from typing import Protocol

from botocore.exceptions import BotoCoreError, ClientError

from functions.shared import aws
from functions.shared.domain_events import DomainEvent
from functions.shared.errors import DependencyUnavailableError
from functions.shared.observability import logger

SOURCE_PREFIX = "skyreel"


class Events(Protocol):
    """The port logic publishes domain events through (fake: tests/fakes/shared.py)."""

    def publish(self, event: DomainEvent) -> None: ...


def source_of(event: DomainEvent) -> str:
    return f"{SOURCE_PREFIX}.{event.domain}"


class EventPublisher:
    """`Events` on the platform's EventBridge bus: source `skyreel.<domain>`, the model as the detail."""

    def __init__(self, bus_name: str) -> None:
        self.bus_name = bus_name

    def publish(self, event: DomainEvent) -> None:
        detail_type = event.detail_type
        try:
            response = aws.events().put_events(
                Entries=[
                    {
                        "EventBusName": self.bus_name,
                        "Source": source_of(event),
                        "DetailType": detail_type,
                        "Detail": event.model_dump_json(),
                    }
                ]
            )
        except (ClientError, BotoCoreError) as exc:
            raise DependencyUnavailableError(f"Could not publish {detail_type}.") from exc
        if response.get("FailedEntryCount"):
            logger.warning("EventBridge refused an event", extra={"entries": response["Entries"]})
            raise DependencyUnavailableError(f"Could not publish {detail_type}.")
