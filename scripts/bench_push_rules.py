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

Usage: python scripts/bench_push_rules.py [--sizes 10,100,1000,10000] [--repeat 30]
"""

import argparse
import statistics
import time
from typing import Any

from synapse.push.bulk import evaluate_for
from synapse.push.evaluator import DEFAULT_RULESET, CompiledRuleset, EventFacts

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
