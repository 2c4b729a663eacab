"""Logger, Tracer and Metrics, set up once per process from the POWERTOOLS_* environment.

Service name and metrics namespace come from the topology (POWERTOOLS_SERVICE_NAME per function),
so every function logs and measures under its own name without code of its own. Metrics are
CloudWatch embedded-metric documents written to stdout when a handler decorated with
`@metrics.log_metrics` returns; the local cloud prints them as one `METRICS name=value` line.
"""

from __future__ import annotations

import functools
import warnings
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

if TYPE_CHECKING:
    from aws_lambda_powertools import Tracer

logger = Logger()
metrics = Metrics()


@functools.cache
def _tracer() -> Tracer:
    from aws_lambda_powertools import Tracer

    return Tracer()


def __getattr__(name: str) -> Any:
    """`tracer` is made on first use: the X-Ray SDK takes ~170 ms to import, and only the API handlers
    trace (`from functions.shared.observability import tracer`); queue, workflow and schedule functions
    never pay for it."""
    if name == "tracer":
        return _tracer()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# Most requests record no business metric; powertools would warn about each such flush.
warnings.filterwarnings("ignore", message="No application metrics to publish")


def count(name: str, value: float = 1) -> None:
    """Count a business event (a sign-in, an upload...) in this invocation's metrics."""
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


def seconds(name: str, value: float) -> None:
    metrics.add_metric(name=name, unit=MetricUnit.Seconds, value=value)
