"""One environment model per viewer-analytics function; required fields are exactly its grants."""

from __future__ import annotations

from pydantic import Field

from functions.shared.config import EnvironmentModel


class ViewsApiSettings(EnvironmentModel):
    videos_table: str = Field(alias="VIDEOS_TABLE_NAME")  # read, through functions/videos/dal.py
    events_table: str = Field(alias="VIEW_EVENTS_TABLE_NAME")
    analytics_table: str = Field(alias="ANALYTICS_TABLE_NAME")
    media_keys_secret: str = Field(alias="MEDIA_TOKEN_KEYS_SECRET_ID")


class ProjectorSettings(EnvironmentModel):
    events_table: str = Field(alias="VIEW_EVENTS_TABLE_NAME")  # read whole by a replay
    analytics_table: str = Field(alias="ANALYTICS_TABLE_NAME")
