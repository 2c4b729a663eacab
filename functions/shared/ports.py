"""The ports every domain's logic may depend on: Protocols only, no boto3 (their adapters are
functions/shared/events.py `EventPublisher` and functions/shared/cdn.py `CloudFrontCache`/`NoCache`).

They live apart from their adapters so that importing a domain's logic never imports boto3 or an adapter
(tests/logic/test_layers.py checks it)."""

from __future__ import annotations

from typing import Protocol

from functions.shared.domain_events import DomainEvent


class Events(Protocol):
    """The port logic publishes domain events through (fake: tests/fakes/shared.py `RecordingEvents`)."""

    def publish(self, event: DomainEvent) -> None: ...


class MediaCache(Protocol):
    """The CDN's cache of media: cached copies of `paths` must go (a video went private or was deleted)."""

    def invalidate(self, paths: list[str]) -> None: ...
