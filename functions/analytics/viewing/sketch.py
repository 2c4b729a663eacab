"""Startup-time percentiles from a DDSketch (`ddsketch`), kept as bucket counts so they can be stored,
added and subtracted exactly.

A read model holds `{bucket key: count}` where the key is DDSketch's own logarithmic mapping of the value
(`LogarithmicMapping(RELATIVE_ACCURACY)`), and `"z"` counts zeros. Adding a session's startup is `+1` on
its key, and a session whose startup changes (a late beacon with an earlier position) is `-1` on the old
key: a plain DDSketch cannot forget a value, its buckets can. Percentiles are read from a DDSketch rebuilt
from the buckets (each bucket's representative value with its count), which is the same sketch the values
would have built directly, so the stated bound holds: every percentile is within 1 % (relative) of a value
of the data set at that rank.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

from ddsketch import DDSketch
from ddsketch.mapping import LogarithmicMapping

RELATIVE_ACCURACY = 0.01
ZERO = "z"


@functools.cache
def _mapping() -> LogarithmicMapping:
    return LogarithmicMapping(RELATIVE_ACCURACY)


def bucket(value_ms: int) -> str:
    """The bucket a startup time (ms, >= 0) falls in."""
    mapping = _mapping()
    if value_ms < mapping.min_possible:
        return ZERO
    return str(mapping.key(value_ms))


def sketch(buckets: Mapping[str, int]) -> DDSketch:
    """The DDSketch the bucket counts stand for."""
    mapping = _mapping()
    result = DDSketch(RELATIVE_ACCURACY)
    for key, count in sorted(buckets.items()):
        if count <= 0:
            continue
        result.add(0.0 if key == ZERO else mapping.value(int(key)), count)
    return result


def quantile(buckets: Mapping[str, int], q: float) -> float | None:
    """The q-quantile (0..1) of the values behind the buckets, or None with no values."""
    if not any(count > 0 for count in buckets.values()):
        return None
    value = sketch(buckets).get_quantile_value(q)
    return None if value is None else round(float(value), 1)
