"""Viewer analytics, CQRS (docs/viewer-analytics.md): the player's beacon is validated and appended to an
append-only event store (`view_events`, idempotent by event id); one projector on its stream folds the
events into read models in the analytics table; the read API answers from them; a replay rebuilds them
from the store and gets the same items."""
