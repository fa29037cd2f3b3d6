#!/usr/bin/env python3
"""Benchmark any Matrix homeserver over HTTP (a measurement tool, not a test).

Phases, in order, each with fresh users:
  a) C concurrent clients send M messages spread over R rooms: throughput,
     send latency, and CPU-seconds of the homeserver (and PostgreSQL) per
     1,000 events;
  b) /sync wake-up: time from a send's 200 OK to a long-polling receiver's
     /sync returning that event;
  c) initial /sync of a small account, each on a freshly logged-in device;
  d) /sync under ephemeral traffic: receivers long-poll while typing,
     read receipts, account data and to-device writes arrive at a fixed rate:
     delivery latency per kind, CPU-s per 1,000 writes, syncs returned/s;
  e) sends into one large room (every member's push rules evaluated per
     event): events/s and CPU-s per 1,000 events;
then the homeserver's RSS. `--phases` picks a subset (e.g. `--phases d`).
`--side-pid NAME=PID` meters one more process on its own over phase a (e.g.
an idle worker, a proxy, or each worker of a topology) and reports its CPU-s
per 1,000 events under that name. Startup time comes from the runner script
and is only recorded here (--startup-seconds). `--summarize A.json B.json ...`
prints the medians of earlier runs as a Markdown table instead of measuring.

Example (real Synapse started by scripts/run_synapse_baseline.sh):
  /work/venv/bin/python scripts/benchmark.py --base-url http://127.0.0.1:18008 \
      --shared-secret bench-shared-secret --pid 1234 --pg-pids auto \
      --pg-db synapse_bench --json out.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import statistics
import sys
import time
from typing import Any

import aiohttp
from bench.ephemeral import EphemeralConfig, run_ephemeral
from bench.matrix_client import MatrixError, new_session, request
from bench.procstat import (
    CpuSnapshot,
    PgPidSource,
    PhaseMeter,
    load_average,
    machine_info,
    process_tree,
    rss_bytes,
)
from bench.report import format_report
from bench.scenarios import (
    Server,
    run_initial_sync,
    run_large_room,
    run_senders,
    run_sync_wakeup,
    setup_population,
)
from bench.summarize import markdown_table


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--base-url", help="client API base, e.g. http://127.0.0.1:8008")
    p.add_argument("--shared-secret", help="registration_shared_secret of the server")
    p.add_argument(
        "--pid",
        type=int,
        action="append",
        default=[],
        help="homeserver process id (repeatable); its descendants are included",
    )
    p.add_argument(
        "--side-pid",
        action="append",
        default=[],
        metavar="NAME=PID",
        help="also meter this process tree on its own (repeatable); not added to --pid",
    )
    p.add_argument(
        "--admin-url",
        default=None,
        help="where /_synapse/admin is served if not at --base-url (behind a proxy)",
    )
    p.add_argument(
        "--pg-pids",
        default=None,
        help="'auto' (rediscover postgres processes at each snapshot) or comma-separated pids",
    )
    p.add_argument(
        "--pg-db",
        default=None,
        help="with --pg-pids auto: ignore client backends of other databases",
    )
    p.add_argument(
        "--users", type=int, default=20, help="benchmark users, all joined to all rooms"
    )
    p.add_argument("--rooms", type=int, default=10)
    p.add_argument(
        "--messages", type=int, default=2000, help="messages sent in phase a"
    )
    p.add_argument(
        "--concurrency", type=int, default=10, help="concurrent sending clients"
    )
    p.add_argument(
        "--warmup",
        type=int,
        default=100,
        help="unmeasured messages sent before phase a",
    )
    p.add_argument(
        "--drain",
        type=float,
        default=2.0,
        help="seconds after the last send or write still charged to the CPU of phases a, d, e",
    )
    p.add_argument("--sync-samples", type=int, default=100)
    p.add_argument(
        "--sync-park-ms",
        type=float,
        default=100.0,
        help="pause between starting the long-poll and sending",
    )
    p.add_argument("--initial-sync-samples", type=int, default=20)
    p.add_argument(
        "--initial-sync-rooms",
        type=int,
        default=3,
        help="benchmark rooms the small account joins",
    )
    p.add_argument(
        "--phases",
        default="abcde",
        help="which phases to run, in order: any of the letters abcde (default all)",
    )
    p.add_argument(
        "--ephemeral-receivers",
        type=int,
        default=10,
        help="phase d: users long-polling /sync, all in every ephemeral room",
    )
    p.add_argument(
        "--ephemeral-senders",
        type=int,
        default=4,
        help="phase d: users sending typing, receipts and to-device messages",
    )
    p.add_argument(
        "--ephemeral-rooms", type=int, default=2, help="phase d: shared rooms"
    )
    p.add_argument(
        "--ephemeral-rate",
        type=float,
        default=10.0,
        help="phase d: ephemeral writes per second, the four kinds in turn",
    )
    p.add_argument(
        "--ephemeral-duration",
        type=float,
        default=60.0,
        help="phase d: seconds of writes (rate x duration writes in all)",
    )
    p.add_argument(
        "--large-room-members",
        type=int,
        default=200,
        help="phase e: users registered and joined to the one room",
    )
    p.add_argument(
        "--large-room-messages",
        type=int,
        default=500,
        help="phase e: messages sent into the large room",
    )
    p.add_argument(
        "--large-room-concurrency",
        type=int,
        default=10,
        help="phase e: concurrent sending clients (the first members)",
    )
    p.add_argument(
        "--settle",
        type=float,
        default=3.0,
        help="idle seconds after setup before measuring (background work settles)",
    )
    p.add_argument(
        "--startup-seconds",
        type=float,
        default=None,
        help="startup time measured by the runner, copied into the output",
    )
    p.add_argument("--label", default=None, help="free-text label stored in the JSON")
    p.add_argument("--json", dest="json_out", default=None, help="write results here")
    p.add_argument(
        "--summarize",
        nargs="+",
        metavar="RESULT_JSON",
        help="print medians of these result files and exit",
    )
    args = p.parse_args(argv)
    if not args.summarize and not (args.base_url and args.shared_secret):
        p.error("--base-url and --shared-secret are required")
    if not set(args.phases) <= set("abcde") or not args.phases:
        p.error("--phases takes letters from abcde")
    if args.large_room_concurrency > args.large_room_members:
        p.error("--large-room-concurrency cannot exceed --large-room-members")
    if args.pg_db and args.pg_pids != "auto":
        p.error("--pg-db only applies to --pg-pids auto")
    try:
        args.side_pids = {
            name: int(pid) for name, pid in (x.split("=", 1) for x in args.side_pid)
        }
    except ValueError:
        p.error("--side-pid takes NAME=PID")
    return args


class SideMeter(PhaseMeter):
    """PhaseMeter that also meters named processes one by one.

    Processes outside the --pid trees (an idle worker, a proxy) would
    otherwise count as "other" noise; their CPU is taken out of it.
    """

    def __init__(
        self, roots: list[int], pg_pids: PgPidSource, sides: dict[str, int]
    ) -> None:
        super().__init__(roots, pg_pids)
        self.sides = sides

    def _snapshots(self) -> dict[str, CpuSnapshot]:
        return {n: CpuSnapshot(process_tree([pid])) for n, pid in self.sides.items()}

    def start(self) -> None:
        super().start()
        self._side_before = self._snapshots()
        self._side_wall = time.monotonic()

    def stop(self) -> dict[str, Any]:
        result: dict[str, Any] = dict(super().stop())
        now = self._snapshots()
        side = {n: now[n].seconds_since(self._side_before[n]) for n in self.sides}
        result["side_cpu_s"] = side
        inside = set(process_tree(self.homeserver_roots))
        outside = sum(side[n] for n, pid in self.sides.items() if pid not in inside)
        if result.get("other_cpu_s") is not None and outside:
            capacity = (time.monotonic() - self._side_wall) * (os.cpu_count() or 1)
            result["other_cpu_s"] -= outside
            result["other_cpu_share"] = result["other_cpu_s"] / capacity
        return result


def pg_source(args: argparse.Namespace) -> PgPidSource:
    if args.pg_pids is None:
        return PgPidSource()
    if args.pg_pids == "auto":
        return PgPidSource(auto=True, database=args.pg_db)
    return PgPidSource(fixed=[int(x) for x in args.pg_pids.split(",") if x])


async def server_version(base_url: str) -> str | None:
    """Name and version from the federation version endpoint, if served."""
    session = new_session()
    try:
        body, _ = await request(
            session, base_url, "GET", "/_matrix/federation/v1/version"
        )
        server = body.get("server", {})
        return f"{server.get('name')} {server.get('version')}"
    except (MatrixError, aiohttp.ClientError, ValueError, AttributeError):
        return None  # optional endpoint; its absence is not a failure
    finally:
        await session.close()


async def run(args: argparse.Namespace) -> dict[str, Any]:
    server = Server(
        args.base_url.rstrip("/"),
        args.shared_secret,
        secrets.token_hex(3),
        args.admin_url.rstrip("/") if args.admin_url else None,
    )
    results: dict[str, Any] = {
        "meta": {
            "base_url": server.base_url,
            "label": args.label,
            "run_id": server.run_id,
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "server_version": await server_version(server.base_url),
            "machine": machine_info(),
            "load_average_before": load_average(),
            "startup_seconds": args.startup_seconds,
            "homeserver_pids": process_tree(args.pid),
            "side_pids": args.side_pids,
            "args": {k: v for k, v in vars(args).items() if k != "shared_secret"},
        }
    }
    meter = SideMeter(args.pid, pg_source(args), args.side_pids)
    phases = args.phases
    pop = None
    if "a" in phases or "c" in phases:
        print(f"setup: {args.users} users, {args.rooms} rooms ...", file=sys.stderr)
        pop, results["setup_s"] = await setup_population(
            server, args.users, args.rooms
        )
    try:
        meter.start()
        await asyncio.sleep(args.settle)
        idle = meter.stop()
        results["idle"] = {"seconds": args.settle, **idle}

        if pop is not None and "a" in phases:
            print(
                f"a) senders: {args.messages} messages, C={args.concurrency} ...",
                file=sys.stderr,
            )
            results["senders"] = send = await run_senders(
                pop.users,
                pop.rooms,
                args.messages,
                args.concurrency,
                meter,
                args.warmup,
                args.drain,
            )
            send["side_cpu_s_per_1k_events"] = {
                n: s * 1000.0 / args.messages for n, s in send["side_cpu_s"].items()
            }
        if "b" in phases:
            print(f"b) /sync wake-up: {args.sync_samples} samples ...", file=sys.stderr)
            results["sync_wakeup"] = await run_sync_wakeup(
                server, args.sync_samples, args.sync_park_ms / 1000.0
            )
        if pop is not None and "c" in phases:
            print(
                f"c) initial sync: {args.initial_sync_samples} fresh devices ...",
                file=sys.stderr,
            )
            results["initial_sync"] = await run_initial_sync(
                server, pop.rooms[: args.initial_sync_rooms], args.initial_sync_samples
            )
        if "d" in phases:
            cfg = EphemeralConfig(
                receivers=args.ephemeral_receivers,
                senders=args.ephemeral_senders,
                rooms=args.ephemeral_rooms,
                rate=args.ephemeral_rate,
                duration_s=args.ephemeral_duration,
                drain_s=args.drain,
            )
            print(
                f"d) ephemeral: {cfg.rate:g} writes/s for {cfg.duration_s:g} s,"
                f" {cfg.receivers} receivers ...",
                file=sys.stderr,
            )
            results["ephemeral"] = await run_ephemeral(server, cfg, meter)
        if "e" in phases:
            print(
                f"e) large room: {args.large_room_members} members,"
                f" {args.large_room_messages} messages ...",
                file=sys.stderr,
            )
            results["large_room"] = await run_large_room(
                server,
                args.large_room_members,
                args.large_room_messages,
                args.large_room_concurrency,
                meter,
                min(args.warmup, args.large_room_messages),
                args.drain,
            )
    finally:
        if pop is not None:
            await pop.close()
    pids = process_tree(args.pid)
    results["after_run"] = {
        "homeserver_pids": pids,
        "homeserver_rss_mb": rss_bytes(pids) / 2**20 if pids else None,
        "load_average": load_average(),
    }
    return results


def side_table(paths: list[str]) -> str:
    """Medians of the --side-pid figures (CPU-s per 1,000 events) as Markdown."""
    values: dict[str, list[float]] = {}
    for path in paths:
        with open(path) as f:
            send = json.load(f).get("senders", {})
        for name, cpu in send.get("side_cpu_s_per_1k_events", {}).items():
            values.setdefault(name, []).append(cpu)
    if not values:
        return ""
    lines = ["", "| process (--side-pid) CPU-s per 1,000 events | median | runs |"]
    lines.append("| --- | ---: | --- |")
    for name, vs in values.items():
        each = ", ".join(f"{v:.2f}" for v in vs)
        lines.append(f"| {name} | {statistics.median(vs):.2f} | {each} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.summarize:
        print(markdown_table(args.summarize))
        print(side_table(args.summarize))
        return 0
    try:
        results = asyncio.run(run(args))
    except MatrixError as e:
        print(f"benchmark aborted: {e}", file=sys.stderr)
        return 1
    print(format_report(results))
    side = results.get("senders", {}).get("side_cpu_s_per_1k_events", {})
    for name, cpu in side.items():
        print(f"  {name}: {cpu:.2f} CPU-s per 1,000 events")
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump(results, f, indent=2, sort_keys=True)
            f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
