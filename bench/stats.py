"""Percentiles, medians of repeated runs, and small formatting helpers."""

import math
import statistics
from collections.abc import Sequence
from typing import Any

PERCENTILES = (50.0, 99.0, 99.9)


def percentile(values: Sequence[float], p: float) -> float:
    """The nearest-rank percentile of ``values`` (NaN when empty)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    # The rank is ceil(p% of n); the small slack keeps float error (99.9 / 100 * 1000 is
    # 999.0000000000001) from moving it one up.
    rank = math.ceil(p * len(ordered) / 100 - 1e-9)
    return ordered[min(len(ordered) - 1, max(rank - 1, 0))]


def latency_summary(seconds: Sequence[float]) -> dict[str, float | int | None]:
    """``{count, p50, p99, p99.9, max}`` in milliseconds (None when there is nothing)."""
    summary: dict[str, float | int | None] = {"count": len(seconds)}
    if not seconds:
        summary.update({f"p{p:g}": None for p in PERCENTILES} | {"max": None})
        return summary
    ordered = sorted(seconds)
    for p in PERCENTILES:
        summary[f"p{p:g}"] = round(percentile(ordered, p) * 1000, 2)
    summary["max"] = round(ordered[-1] * 1000, 2)
    return summary


def median_of(runs: Sequence[Any]) -> Any:
    """The median, leaf by leaf, of several runs' results of the same shape.

    Numbers (not booleans) become their median; lists of equal length are taken element by
    element; anything else (text, flags, ``None``) is taken from the first run.
    """
    if not runs:
        return None
    present = [r for r in runs if r is not None]
    first = present[0] if present else None
    if isinstance(first, dict):
        keys = list(first)
        return {k: median_of([r.get(k) for r in runs if isinstance(r, dict)]) for k in keys}
    if isinstance(first, list):
        if all(isinstance(r, list) and len(r) == len(first) for r in runs):
            return [median_of([r[i] for r in runs]) for i in range(len(first))]
        return first
    numbers = [r for r in runs if isinstance(r, int | float) and not isinstance(r, bool) and r == r]
    if isinstance(first, int | float) and not isinstance(first, bool) and numbers:
        value = statistics.median(numbers)
        if isinstance(first, int) and all(isinstance(r, int) for r in numbers):
            return round(value)
        return round(float(value), 4)
    return first


def fmt(value: Any, digits: int = 1) -> str:
    """A table cell: thousands separators, fixed decimals, an en dash for nothing."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        return f"{value:,.{digits}f}"
    return str(value)
