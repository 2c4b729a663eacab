"""Latency sketches: DDSketch (the `ddsketch` library) with a stated relative accuracy, and its storage form.

A quantile read from a sketch is within RELATIVE_ACCURACY of the exact quantile of the values added
(DDSketch's guarantee, for any quantile and any distribution); merging sketches made with the same
accuracy loses nothing, so day x route x key cells merge into any range's p50/p95/p99.

Stored as compact JSON with the fields of the library's own protobuf form (`ddsketch.pb.proto`: the
dense store's contiguous bin counts and index offset, the zero count) plus count, sum, min and max;
the protobuf form would need `protobuf` in every function's layer for the same fields. The bins are put
back as the library's `DenseStore` holds them; merging and quantiles are the library's.
"""

from __future__ import annotations

import json

from ddsketch import DDSketch
from ddsketch.store import DenseStore

RELATIVE_ACCURACY = 0.01  # every quantile within 1% of the exact value


def new_sketch() -> DDSketch:
    return DDSketch(relative_accuracy=RELATIVE_ACCURACY)


def _store_form(store: DenseStore) -> list[object]:
    bins = [int(c) if float(c).is_integer() else float(c) for c in store.bins]
    while bins and bins[-1] == 0:
        bins.pop()
    lead = 0
    while lead < len(bins) and bins[lead] == 0:
        lead += 1
    return [store.offset + lead, bins[lead:]]


def _load_store(form: list[object]) -> DenseStore:
    """The store with its bins set as `DenseStore` keeps them (bins[key - offset], min_key..max_key the
    keys with counts): a summary loads thousands of sketches, so no per-bin `add` here."""
    offset, counts = form
    if not isinstance(offset, int) or not isinstance(counts, list):
        raise ValueError("not a stored sketch")
    store = DenseStore()
    if counts:
        store.bins = [float(c) for c in counts]
        store.offset = store.min_key = offset
        store.max_key = offset + len(counts) - 1
        store.count = sum(store.bins)
    return store


def dumps(sketch: DDSketch) -> str:
    """The sketch as a short JSON text (a few hundred bytes for a day of one route's latencies)."""
    form = {
        "a": RELATIVE_ACCURACY,
        "p": _store_form(sketch._store),
        "n": _store_form(sketch._negative_store),
        "z": sketch._zero_count,
        "c": sketch._count,
        "s": sketch._sum,
        "lo": sketch._min if sketch._count else None,
        "hi": sketch._max if sketch._count else None,
    }
    return json.dumps(form, separators=(",", ":"))


def loads(text: str) -> DDSketch:
    form = json.loads(text)
    if form["a"] != RELATIVE_ACCURACY:
        raise ValueError(f"a sketch of relative accuracy {form['a']} cannot merge with {RELATIVE_ACCURACY}")
    sketch = new_sketch()
    sketch._store = _load_store(form["p"])
    sketch._negative_store = _load_store(form["n"])
    sketch._zero_count = float(form["z"])
    sketch._count = float(form["c"])
    sketch._sum = float(form["s"])
    if form["lo"] is not None:
        sketch._min, sketch._max = float(form["lo"]), float(form["hi"])
    return sketch


def quantile(sketch: DDSketch, q: float) -> float | None:
    value = sketch.get_quantile_value(q) if sketch.count else None
    return None if value is None else float(value)
