"""The suite's arithmetic: percentiles, medians of repeated runs, table cells."""

import math

import pytest

from bench.stats import fmt, latency_summary, median_of, percentile

pytestmark = pytest.mark.bench


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50
    assert percentile(values, 99) == 99
    assert percentile(values, 99.9) == 100
    assert percentile([3.0], 99.9) == 3
    assert math.isnan(percentile([], 50))


def test_latency_summary_is_in_milliseconds_and_ordered() -> None:
    summary = latency_summary([0.001 * v for v in range(1000, 0, -1)])
    assert summary == {"count": 1000, "p50": 500.0, "p99": 990.0, "p99.9": 999.0, "max": 1000.0}
    assert latency_summary([]) == {"count": 0, "p50": None, "p99": None, "p99.9": None, "max": None}


def test_median_of_runs_goes_leaf_by_leaf() -> None:
    runs = [
        {"rate": 100, "ms": {"p50": 1.0}, "ok": True, "steps": {"500": {"n": 1}}, "db": "x"},
        {"rate": 300, "ms": {"p50": 3.0}, "ok": False, "steps": {"500": {"n": 5}}, "db": "y"},
        {"rate": 200, "ms": {"p50": 9.0}, "ok": False, "steps": {}, "db": "z"},
    ]
    assert median_of(runs) == {
        "rate": 200,
        "ms": {"p50": 3.0},
        "ok": True,  # flags and text come from the first run
        "steps": {"500": {"n": 3}},  # a step missing from one run: the median of the others
        "db": "x",
    }
    assert median_of([{"v": None}, {"v": 2.0}]) == {"v": 2.0}


def test_cells() -> None:
    assert fmt(None) == "–"
    assert fmt(1234567) == "1,234,567"
    assert fmt(1234.5) == "1,234"
    assert fmt(12.345, 2) == "12.35"
    assert fmt(True) == "yes"
