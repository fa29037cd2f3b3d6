"""Percentiles and summaries of latency samples (milliseconds)."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence


def percentile(samples: Sequence[float], pct: float) -> float:
    """Linear-interpolated percentile (the same rule as numpy's default).

    Used instead of nearest-rank so p99 of a few hundred samples does not jump
    between neighbouring samples from one run to the next.
    """
    if not samples:
        return math.nan
    ordered = sorted(samples)
    pos = (len(ordered) - 1) * pct / 100.0
    low = math.floor(pos)
    high = math.ceil(pos)
    if low == high:
        return ordered[low]
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def summarize_ms(samples_s: Sequence[float]) -> dict[str, float]:
    """Summary of samples given in seconds, reported in milliseconds."""
    ms = [s * 1000.0 for s in samples_s]
    if not ms:
        return {"count": 0}
    return {
        "count": len(ms),
        "mean": statistics.fmean(ms),
        "min": min(ms),
        "p50": percentile(ms, 50),
        "p95": percentile(ms, 95),
        "p99": percentile(ms, 99),
        "max": max(ms),
    }
