"""Render benchmark results as a plain-text table for the terminal."""

from __future__ import annotations

from typing import Any


def _num(value: Any, fmt: str = ".1f") -> str:
    if value is None:
        return "n/a"
    return format(value, fmt)


def _pct(share: float | None) -> float | None:
    return None if share is None else share * 100


def format_report(results: dict[str, Any]) -> str:
    """Readable summary of the JSON document written by scripts/benchmark.py."""
    meta = results["meta"]
    rows: list[tuple[str, str]] = []
    send = results.get("senders")
    if send:
        lat = send["send_latency_ms"]
        rows += [
            (
                (
                    f"send throughput ({send['messages']} msgs,"
                    f" C={send['concurrency']}, R={send['rooms']})"
                ),
                f"{send['events_per_s']:.1f} events/s",
            ),
            (
                "send latency p50 / p95 / p99",
                f"{lat['p50']:.1f} / {lat['p95']:.1f} / {lat['p99']:.1f} ms",
            ),
            (
                "homeserver CPU-s per 1,000 events",
                _num(send["homeserver_cpu_s_per_1k_events"], ".2f"),
            ),
            (
                "PostgreSQL CPU-s per 1,000 events",
                _num(send["postgres_cpu_s_per_1k_events"], ".2f"),
            ),
            (
                "  of which client backends",
                _num(send.get("postgres_backends_cpu_s_per_1k_events"), ".2f"),
            ),
            (
                "homeserver + DB CPU-s per 1,000 events",
                _num(send.get("homeserver_plus_db_cpu_s_per_1k_events"), ".2f"),
            ),
            ("benchmark client CPU-s (send phase)", _num(send["client_cpu_s"], ".2f")),
            (
                "other processes' CPU during send phase (noise)",
                (
                    f"{send['other_cpu_s']:.1f} s = "
                    f"{_pct(send['other_cpu_share']):.0f}% of all CPUs"
                    if send.get("other_cpu_share") is not None
                    else "n/a (needs --pid)"
                ),
            ),
        ]
    wake = results.get("sync_wakeup")
    if wake:
        w = wake["wakeup_ms"]
        rows += [
            (
                (
                    f"/sync wake-up after send 200 OK ({wake['samples']} samples)"
                    " p50 / p99 (min)"
                ),
                f"{w['p50']:.1f} / {w['p99']:.1f} ms ({w['min']:.1f})",
            ),
            (
                "  wake-ups without the event (early / after send)",
                (
                    f"{wake['early_wakeups_before_send']} / "
                    f"{wake['wakeups_without_the_event']}"
                ),
            ),
        ]
    init = results.get("initial_sync")
    if init:
        i = init["initial_sync_ms"]
        rows.append(
            (
                (
                    f"initial sync, fresh device, {init['joined_rooms']} rooms"
                    f" (median of {init['samples']})"
                ),
                f"{i['p50']:.1f} ms (min {i['min']:.1f}, max {i['max']:.1f})",
            )
        )
    after = results.get("after_run", {})
    if after.get("homeserver_rss_mb") is not None:
        rows.append(
            ("homeserver RSS after the run", f"{after['homeserver_rss_mb']:.0f} MB")
        )
    if meta.get("startup_seconds") is not None:
        rows.append(
            ("startup to /health OK (runner)", f"{meta['startup_seconds']:.2f} s")
        )
    load = after.get("load_average")
    if load:
        rows.append(
            (
                "load average after (1/5/15 min; >nproc = contended)",
                " / ".join(f"{x:.2f}" for x in load),
            )
        )
    width = max(len(label) for label, _ in rows) if rows else 0
    header = (
        f"{meta['base_url']}  server: {meta.get('server_version') or 'unknown'}"
        f"  machine: {meta['machine'].get('nproc')} cpu,"
        f" {meta['machine'].get('mem_total_mb')} MB"
    )
    lines = [header, "-" * len(header)]
    lines += [f"{label:<{width}}  {value}" for label, value in rows]
    return "\n".join(lines)
