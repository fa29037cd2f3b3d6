"""Render benchmark results as a plain-text table for the terminal."""

from __future__ import annotations

from typing import Any


def _num(value: Any, fmt: str = ".1f") -> str:
    if value is None:
        return "n/a"
    return format(value, fmt)


def _pct(share: float | None) -> float | None:
    return None if share is None else share * 100


def _cpu_rows(phase: dict[str, Any], unit: str) -> list[tuple[str, str]]:
    return [
        (
            f"  homeserver CPU-s per 1,000 {unit}",
            _num(phase.get(f"homeserver_cpu_s_per_1k_{unit}"), ".2f"),
        ),
        (
            f"  PostgreSQL CPU-s per 1,000 {unit} (client backends)",
            f"{_num(phase.get(f'postgres_cpu_s_per_1k_{unit}'), '.2f')}"
            f" ({_num(phase.get(f'postgres_backends_cpu_s_per_1k_{unit}'), '.2f')})",
        ),
        (
            "  other processes' share of all CPUs (noise)",
            f"{_num(_pct(phase.get('other_cpu_share')), '.0f')} %",
        ),
    ]


def _ephemeral_rows(eph: dict[str, Any] | None) -> list[tuple[str, str]]:
    if not eph:
        return []
    rows = [
        (
            (
                f"ephemeral: {eph['writes']} writes at {eph['rate_per_s']:g}/s,"
                f" {eph['receivers']} receivers, {eph['rooms']} rooms"
            ),
            f"achieved {eph['achieved_writes_per_s']:.1f} writes/s",
        ),
        ("  /sync responses returned per second", f"{eph['syncs_per_s']:.1f}"),
    ]
    for kind, d in eph["delivery_ms"].items():
        seen, expected = eph["deliveries_seen"][kind], eph["deliveries_expected"][kind]
        value = (
            f"{d['p50']:.1f} / {d['p95']:.1f} / {d['p99']:.1f} ms"
            if d.get("count")
            else "none"
        )
        rows.append(
            (f"  {kind} delivery p50 / p95 / p99 ({seen}/{expected} seen)", value)
        )
    return rows + _cpu_rows(eph, "writes")


def _large_room_rows(big: dict[str, Any] | None) -> list[tuple[str, str]]:
    if not big:
        return []
    lat = big["send_latency_ms"]
    return [
        (
            (
                f"large room: {big['members']} members, {big['messages']} msgs,"
                f" C={big['concurrency']}"
            ),
            f"{big['events_per_s']:.1f} events/s",
        ),
        (
            "  send latency p50 / p95 / p99",
            f"{lat['p50']:.1f} / {lat['p95']:.1f} / {lat['p99']:.1f} ms",
        ),
        *_cpu_rows(big, "events"),
    ]


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
    rows += _ephemeral_rows(results.get("ephemeral"))
    rows += _large_room_rows(results.get("large_room"))
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
