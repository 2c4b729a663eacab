"""One environment model per usage function; required fields are exactly that function's grants."""

from __future__ import annotations

from pydantic import Field

from functions.shared.config import EnvironmentModel


class UsageApiSettings(EnvironmentModel):
    analytics_table: str = Field(alias="ANALYTICS_TABLE_NAME")
    auth_table: str = Field(alias="AUTH_TABLE_NAME")  # read through functions/auth/dal.py ApiKeyTable


class AggregatorSettings(EnvironmentModel):
    analytics_table: str = Field(alias="ANALYTICS_TABLE_NAME")
    # Objects are named by the S3 event; the grant is checked here so a missing one fails at start.
    log_bucket: str = Field(alias="USAGE_LOGS_BUCKET_NAME")
