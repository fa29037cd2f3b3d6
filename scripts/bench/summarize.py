"""Median of the headline figures over several result files, as Markdown.

Runs on shared machines are noisy, so docs/benchmarks.md reports the median
of repeated runs; this turns the JSON files into the rows used there.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable
from typing import Any


def _other_cpu_percent(result: dict[str, Any]) -> float | None:
    """Other processes' share of all CPUs during the send phase, in %."""
    send = result["senders"]
    share = send.get("other_cpu_share")
    if share is None and send.get("other_cpu_s") is not None:
        # Files from before other_cpu_share was recorded.
        capacity = (send["wall_s"] + send["drain_s"]) * result["meta"]["machine"][
            "nproc"
        ]
        share = send["other_cpu_s"] / capacity
    return None if share is None else share * 100


Figure = tuple[str, Callable[[dict[str, Any]], float | None], str]

FIGURES: list[Figure] = [
    ("send throughput, events/s", lambda r: r["senders"]["events_per_s"], ".1f"),
    ("send latency p50, ms", lambda r: r["senders"]["send_latency_ms"]["p50"], ".1f"),
    ("send latency p95, ms", lambda r: r["senders"]["send_latency_ms"]["p95"], ".1f"),
    ("send latency p99, ms", lambda r: r["senders"]["send_latency_ms"]["p99"], ".1f"),
    (
        "homeserver CPU-s per 1,000 events",
        lambda r: r["senders"]["homeserver_cpu_s_per_1k_events"],
        ".2f",
    ),
    (
        "PostgreSQL CPU-s per 1,000 events",
        lambda r: r["senders"]["postgres_cpu_s_per_1k_events"],
        ".2f",
    ),
    (
        "  of which client backends",
        lambda r: r["senders"].get("postgres_backends_cpu_s_per_1k_events"),
        ".2f",
    ),
    (
        "homeserver + DB CPU-s per 1,000 events",
        lambda r: r["senders"].get("homeserver_plus_db_cpu_s_per_1k_events"),
        ".2f",
    ),
    ("/sync wake-up p50, ms", lambda r: r["sync_wakeup"]["wakeup_ms"]["p50"], ".1f"),
    ("/sync wake-up p99, ms", lambda r: r["sync_wakeup"]["wakeup_ms"]["p99"], ".1f"),
    ("/sync wake-up min, ms", lambda r: r["sync_wakeup"]["wakeup_ms"]["min"], ".1f"),
    (
        "initial sync (fresh device), median ms",
        lambda r: r["initial_sync"]["initial_sync_ms"]["p50"],
        ".1f",
    ),
    ("RSS after the run, MB", lambda r: r["after_run"]["homeserver_rss_mb"], ".0f"),
    ("startup to /health OK, s", lambda r: r["meta"]["startup_seconds"], ".2f"),
    (
        "other processes' share of all CPUs during the send phase, % (noise)",
        _other_cpu_percent,
        ".0f",
    ),
]


def _delivery(kind: str, pct: str) -> Callable[[dict[str, Any]], float | None]:
    return lambda r: r["ephemeral"]["delivery_ms"][kind][pct]


def _phase_figures(phase: str, label: str, unit: str) -> list[Figure]:
    """CPU per 1,000 units and the noise share of phase d or e."""

    def get(key: str, scale: float = 1.0) -> Callable[[dict[str, Any]], float | None]:
        return lambda r: r[phase][key] * scale

    return [
        (f"{label}: homeserver CPU-s per 1,000 {unit}", get(f"homeserver_cpu_s_per_1k_{unit}"), ".2f"),
        (f"{label}: PostgreSQL CPU-s per 1,000 {unit}", get(f"postgres_cpu_s_per_1k_{unit}"), ".2f"),
        (f"{label}: other processes' share of all CPUs, % (noise)", get("other_cpu_share", 100.0), ".0f"),
    ]


FIGURES += [
    ("ephemeral: /sync responses per second", lambda r: r["ephemeral"]["syncs_per_s"], ".1f"),
    *(
        (f"ephemeral: {kind} delivery {pct}, ms", _delivery(kind, pct), ".1f")
        for kind in ("typing", "receipt", "to_device", "account_data")
        for pct in ("p50", "p95", "p99")
    ),
    *_phase_figures("ephemeral", "ephemeral", "writes"),
    ("large room: events/s", lambda r: r["large_room"]["events_per_s"], ".1f"),
    ("large room: send latency p50, ms", lambda r: r["large_room"]["send_latency_ms"]["p50"], ".1f"),
    *_phase_figures("large_room", "large room", "events"),
]


def median_rows(results: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    """(figure, median, every run's value) for each headline figure."""
    rows = []
    for name, get, fmt in FIGURES:
        values = [v for v in (_get(get, r) for r in results) if v is not None]
        if not values:
            rows.append((name, "n/a", ""))
            continue
        each = ", ".join(format(v, fmt) for v in values)
        rows.append((name, format(statistics.median(values), fmt), each))
    return rows


def _get(
    get: Callable[[dict[str, Any]], float | None], result: dict[str, Any]
) -> float | None:
    try:
        return get(result)
    except (KeyError, TypeError):
        return None


def markdown_table(paths: list[str]) -> str:
    results = []
    for path in paths:
        with open(path) as f:
            results.append(json.load(f))
    labels = {r["meta"].get("label") or r["meta"]["base_url"] for r in results}
    lines = [
        f"Median of {len(results)} runs ({', '.join(sorted(labels))})",
        "",
        "| figure | median | runs |",
        "| --- | ---: | --- |",
    ]
    lines += [f"| {n} | {m} | {e} |" for n, m, e in median_rows(results)]
    return "\n".join(lines)
