"""The one place the usage adapters and use cases are built from settings, once per sandbox."""

from __future__ import annotations

import functools

from functions.analytics.usage.dal import AuthKeyOwners, DynamoUsageAggregates
from functions.analytics.usage.logic import UsageIngest, UsageQueries
from functions.analytics.usage.settings import AggregatorSettings, UsageApiSettings
from functions.analytics.usage.storage import S3LogObjects


@functools.cache
def api_settings() -> UsageApiSettings:
    return UsageApiSettings.from_environment()


@functools.cache
def aggregator_settings() -> AggregatorSettings:
    return AggregatorSettings.from_environment()


@functools.cache
def queries() -> UsageQueries:
    s = api_settings()
    return UsageQueries(DynamoUsageAggregates(s.analytics_table), AuthKeyOwners(s.auth_table))


@functools.cache
def ingest() -> UsageIngest:
    return UsageIngest(DynamoUsageAggregates(aggregator_settings().analytics_table), S3LogObjects())
