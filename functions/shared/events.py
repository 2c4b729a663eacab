"""Publishing domain events to the platform's EventBridge bus."""

from __future__ import annotations

import json
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from functions.shared import aws
from functions.shared.errors import DependencyUnavailableError
from functions.shared.observability import logger

SOURCE_PREFIX = "skyreel"


class Events(Protocol):
    """The port logic publishes domain events through (fake: tests/fakes/shared.py)."""

    def publish(self, detail_type: str, detail: dict[str, Any]) -> None: ...


class EventPublisher:
    """`Events` on the platform's EventBridge bus."""

    def __init__(self, bus_name: str, domain: str) -> None:
        self.bus_name = bus_name
        self.source = f"{SOURCE_PREFIX}.{domain}"

    def publish(self, detail_type: str, detail: dict[str, Any]) -> None:
        try:
            response = aws.events().put_events(
                Entries=[
                    {
                        "EventBusName": self.bus_name,
                        "Source": self.source,
                        "DetailType": detail_type,
                        "Detail": json.dumps(detail, default=str),
                    }
                ]
            )
        except (ClientError, BotoCoreError) as exc:
            raise DependencyUnavailableError(f"Could not publish {detail_type}.") from exc
        if response.get("FailedEntryCount"):
            logger.warning("EventBridge refused an event", extra={"entries": response["Entries"]})
            raise DependencyUnavailableError(f"Could not publish {detail_type}.")
