#!/usr/bin/env python3
"""The workload of scripts/bench_push_rules.py, timed on Synapse's evaluator.

Run with the Python of a venv holding matrix-synapse (the baseline of
docs/benchmarks.md, /work/synapse-venv). Synapse evaluates a new event by
building one Rust `PushRuleEvaluator` from the event's flattened keys and
then, in a Python loop over the room's local members, calling its `run`
with each member's `FilteredPushRules`; this times that per-event part
(evaluator built once, `run` per member, keeping the members whose actions
notify), in the steady state where members' rules are already loaded.
Same room shapes as ours: nine in ten members have the server defaults,
one in ten three keyword content rules (one a glob) and a sender rule; one
member is mentioned through `m.mentions`. Median process CPU time over
repetitions, per member.

Usage: /work/synapse-venv/bin/python scripts/bench_push_rules_synapse.py [--sizes 10,100,1000,10000] [--repeat 30]
"""

import argparse
import json
import statistics
import time
from typing import Any

from synapse.synapse_rust.push import FilteredPushRules, PushRule, PushRuleEvaluator, PushRules

SERVER = "bench.example.org"
# Synapse's priority classes of the rule kinds stored per user
CONTENT_CLASS, SENDER_CLASS = 4, 2


def _rules(custom: list[PushRule]) -> FilteredPushRules:
    return FilteredPushRules(PushRules(custom), {}, False, False, False, False, False, False, False)


def custom_rules(index: int) -> list[PushRule]:
    rules = [
        PushRule.from_db(
            f"global/content/kw{i}",
            CONTENT_CLASS,
            json.dumps([{"kind": "event_match", "key": "content.body", "pattern": word}]),
            json.dumps(["notify", {"set_tweak": "highlight"}]),
        )
        for i, word in enumerate([f"project{index}", "deploy*", "lunch"])
    ]
    sender = f"@noisy{index}:{SERVER}"
    rules.append(
        PushRule.from_db(
            f"global/sender/{sender}",
            SENDER_CLASS,
            json.dumps([{"kind": "event_match", "key": "user_id", "pattern": sender}]),
            json.dumps([]),
        )
    )
    return rules


def flattened(size: int) -> dict[str, Any]:
    """The event's keys as Synapse flattens them (dots in names escaped)."""
    return {
        "type": "m.room.message",
        "room_id": f"!bench:{SERVER}",
        "sender": f"@sender:{SERVER}",
        "event_id": "$bench",
        "content.msgtype": "m.text",
        "content.body": "Is anyone going to lunch after the deployment of the new build?",
        "content.m\\.mentions.user_ids": [f"@user{size // 2}:{SERVER}"],
    }


def bench(size: int, repeat: int) -> tuple[float, int]:
    defaults = _rules([])
    members = {f"@user{i}:{SERVER}": (f"User {i}", _rules(custom_rules(i)) if i % 10 == 0 else defaults) for i in range(size)}
    samples, notified = [], 0
    for _ in range(repeat):
        start = time.process_time()
        evaluator = PushRuleEvaluator(flattened(size), True, size + 1, 0, {"room": 50}, {}, False, [], False, False, False)
        counted = {}
        for user_id, (name, rules) in members.items():
            actions = evaluator.run(rules, user_id, name, None)
            if "notify" in actions:
                counted[user_id] = actions
        samples.append(time.process_time() - start)
        notified = len(counted)
    return statistics.median(samples) / size * 1e6, notified


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,100,1000,10000")
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    print(f"{'members':>8} {'µs/member':>10} {'ms/event':>9} {'notified':>9}")
    for size in (int(s) for s in args.sizes.split(",")):
        per_member, notified = bench(size, args.repeat)
        print(f"{size:>8} {per_member:>10.2f} {per_member * size / 1000:>9.2f} {notified:>9}")


if __name__ == "__main__":
    main()
