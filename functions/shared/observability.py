"""Logger, Tracer and Metrics, set up once per process from the POWERTOOLS_* environment.

Service name and metrics namespace come from the topology (POWERTOOLS_SERVICE_NAME per function),
so every function logs and measures under its own name without code of its own.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger()
tracer = Tracer()
metrics = Metrics()
