"""The one place viewer analytics' adapters and use cases are built from settings, once per sandbox."""

from __future__ import annotations

import functools

from functions.analytics.viewing.dal import EventTable, ReadModelTable, TokenKeys, VideoCatalogue
from functions.analytics.viewing.logic import AnalyticsReader, BeaconService, Projector
from functions.analytics.viewing.settings import ProjectorSettings, ViewsApiSettings


@functools.cache
def api_settings() -> ViewsApiSettings:
    return ViewsApiSettings.from_environment()


@functools.cache
def projector_settings() -> ProjectorSettings:
    return ProjectorSettings.from_environment()


@functools.cache
def _catalogue() -> VideoCatalogue:
    return VideoCatalogue(api_settings().videos_table)


@functools.cache
def beacons() -> BeaconService:
    s = api_settings()
    return BeaconService(_catalogue(), EventTable(s.events_table), TokenKeys(s.media_keys_secret))


@functools.cache
def reader() -> AnalyticsReader:
    return AnalyticsReader(_catalogue(), ReadModelTable(api_settings().analytics_table))


@functools.cache
def event_store() -> EventTable:
    return EventTable(projector_settings().events_table)


@functools.cache
def read_models() -> ReadModelTable:
    return ReadModelTable(projector_settings().analytics_table)


@functools.cache
def projector() -> Projector:
    return Projector(read_models())
