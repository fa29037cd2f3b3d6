#!/usr/bin/env python3
"""Times push rule evaluation of one new event for rooms of growing size.

What is timed is the per-recipient work `BulkPushRuleEvaluator.compute`
does once member rows and rulesets are cached (the steady state): for
every member, its compiled ruleset against the event's facts, through
`synapse.push.bulk.evaluate_for`. Most members use the server defaults;
one in ten has its own rules (three keyword content rules and a sender
rule), as users who set keywords do. A fresh `EventFacts` per repetition,
so the per-event reductions start empty each time. Reports the median
over repetitions of this process's CPU time (robust to a busy machine),
in µs per member.

With `--database`, also the whole `BulkPushRuleEvaluator.compute` on a
fresh SQLite database (wall time, one run each): the first event after a
start (member rows and rules loaded in batched queries), the next event
(everything cached), and an event after one member changed (a new state
group: one member row fetched).

Usage: python scripts/bench_push_rules.py [--sizes 10,100,1000,10000] [--repeat 30] [--database]
"""

import argparse
import json
import statistics
import tempfile
import time
from types import SimpleNamespace
from typing import Any

from twisted.internet import defer, task

from synapse.events.model import FrozenEvent
from synapse.events.room_versions import KNOWN_ROOM_VERSIONS
from synapse.events.snapshot import EventContext
from synapse.push.bulk import BulkPushRuleEvaluator, evaluate_for
from synapse.push.evaluator import DEFAULT_RULESET, CompiledRuleset, EventFacts
from synapse.storage.database import make_database_pool
from synapse.storage.databases import DataStores
from synapse.storage.prepare import prepare_database
from synapse.util.clock import Clock

SERVER = "bench.example.org"


def custom_document(index: int) -> dict[str, Any]:
    keywords = [f"project{index}", "deploy*", "lunch"]
    return {
        "rules": {
            "content": [
                {"rule_id": f"kw{i}", "pattern": word, "actions": ["notify", {"set_tweak": "highlight"}]}
                for i, word in enumerate(keywords)
            ],
            "sender": [{"rule_id": f"@noisy{index}:{SERVER}", "actions": []}],
        }
    }


def room(size: int) -> tuple[dict[str, str], dict[str, CompiledRuleset]]:
    recipients = {f"@user{i}:{SERVER}": f"User {i}" for i in range(size)}
    rulesets = {
        user_id: CompiledRuleset.from_document(custom_document(i)) if i % 10 == 0 else DEFAULT_RULESET
        for i, user_id in enumerate(recipients)
    }
    return recipients, rulesets


def event(size: int) -> dict[str, Any]:
    return {
        "type": "m.room.message",
        "room_id": f"!bench:{SERVER}",
        "sender": f"@sender:{SERVER}",
        "event_id": "$bench",
        "content": {
            "msgtype": "m.text",
            "body": "Is anyone going to lunch after the deployment of the new build?",
            "m.mentions": {"user_ids": [f"@user{size // 2}:{SERVER}"]},
        },
    }


def bench(size: int, repeat: int) -> tuple[float, int]:
    recipients, rulesets = room(size)
    ev = event(size)
    samples, notified = [], 0
    for _ in range(repeat):
        facts = EventFacts(ev, size + 1, 0, {})
        start = time.process_time()
        notified = len(evaluate_for(recipients, rulesets, facts))
        samples.append(time.process_time() - start)
    return statistics.median(samples) / size * 1e6, notified


async def bench_database(reactor: Any, sizes: list[int]) -> None:
    """compute() against real stores: cold, warm, and after one member changed."""
    db = make_database_pool(reactor, "sqlite3", {"database": f"{tempfile.mkdtemp()}/bench.db"})
    await prepare_database(db)
    hs = SimpleNamespace(hostname=SERVER, stores=DataStores(db, Clock(reactor), {}))
    print(f"{'members':>8} {'cold ms':>8} {'warm ms':>8} {'1 changed ms':>13}")
    for size in sizes:
        room_id = f"!bench{size}:{SERVER}"
        recipients, _ = room(size)
        rows = [
            (f"$m{size}_{i}", user_id, user_id, room_id, "join", name, size)
            for i, (user_id, name) in enumerate(recipients.items())
        ]

        def insert(txn: Any, rows: list[tuple] = rows) -> None:
            txn.executemany(
                "INSERT INTO room_memberships (event_id, user_id, sender, room_id, membership, display_name,"
                " stream_ordering) VALUES (?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            txn.executemany(
                "INSERT INTO push_rules (user_id, rules, stream_id) VALUES (?, ?, 1) ON CONFLICT DO NOTHING",
                [(r[1], json.dumps(custom_document(i))) for i, r in enumerate(rows) if i % 10 == 0],
            )

        await db.runInteraction("bench_insert", insert)
        state = {("m.room.member", r[1]): r[0] for r in rows}
        evaluator = BulkPushRuleEvaluator(hs)  # type: ignore[arg-type]
        ev = FrozenEvent({**event(size), "room_id": room_id}, KNOWN_ROOM_VERSIONS["10"])
        timings = []
        for group, state_ids in ((1, state), (1, state), (2, {**state, ("m.room.member", rows[0][1]): rows[1][0]})):
            context = EventContext(state_ids_before=state_ids, state_group_before=group)
            start = time.perf_counter()
            await evaluator.compute(ev, context)
            timings.append((time.perf_counter() - start) * 1000)
        print(f"{size:>8} {timings[0]:>8.1f} {timings[1]:>8.1f} {timings[2]:>13.1f}")
    await db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,100,1000,10000")
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--database", action="store_true", help="also time compute() on SQLite")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"{'members':>8} {'µs/member':>10} {'ms/event':>9} {'notified':>9}")
    for size in sizes:
        per_member, notified = bench(size, args.repeat)
        print(f"{size:>8} {per_member:>10.2f} {per_member * size / 1000:>9.2f} {notified:>9}")
    if args.database:
        task.react(lambda reactor: defer.ensureDeferred(bench_database(reactor, sizes)))


if __name__ == "__main__":
    main()
