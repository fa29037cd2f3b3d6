"""A generic worker killed (SIGKILL) and restarted catches up.

While generic1 is down, nginx sends its share of the traffic to generic2 and
messages keep flowing. Once restarted, generic1 (asked directly, not through
nginx) serves everything written while it was away, in /sync and
/messages, and then follows new writes live: a /sync long-poll on it is
woken by a message sent through the other worker.
"""

from __future__ import annotations

import threading
import time

from tests.support.topology import Topology
from tests.system.client import User, timeline_events

DURING_OUTAGE = 5
WAKE_UP_S = 5.0


def _bodies(events: list[dict]) -> list[str]:
    return [e["content"]["body"] for e in events if e["type"] == "m.room.message"]


def test_killed_generic_worker_catches_up(topology: Topology) -> None:
    sender = User.register(topology.base_url, "sender")
    watcher = User.register(topology.base_url, "watcher")
    room_id = sender.create_room()
    watcher.join(room_id)
    status, before = sender.send_text(room_id, "before")
    assert status == 200, before
    # generic1 may hear of "before" a moment after it was acknowledged (by
    # another worker): sync until it has, so its token is past "before"
    deadline = time.monotonic() + WAKE_UP_S
    seen: list[str] = []
    while "before" not in seen:
        assert time.monotonic() < deadline, "generic1 never served the first message"
        answer = watcher.sync(timeout_ms=1000, base_url=topology.url("generic1"))
        seen += _bodies([e for r, e in timeline_events(answer) if r == room_id])

    status = topology.kill("generic1")
    assert status == -9, f"generic1 exited {status} instead of being killed"
    texts = [f"while down {i}" for i in range(DURING_OUTAGE)]
    for text in texts:
        status, body = sender.send_text(room_id, text)
        assert status == 200, f"send through nginx with generic1 down -> {status} {body}"

    topology.start("generic1")
    direct = topology.url("generic1")
    caught_up = watcher.sync(base_url=direct)
    assert _bodies([e for r, e in timeline_events(caught_up) if r == room_id]) == texts
    assert _bodies(sender.messages(room_id, base_url=direct)) == ["before", *texts]

    # live again: a long-poll on generic1 wakes for a message sent via generic2
    result: dict = {}

    def long_poll() -> None:
        started = time.monotonic()
        result["sync"] = watcher.sync(timeout_ms=30000, base_url=direct)
        result["waited"] = time.monotonic() - started

    poller = threading.Thread(target=long_poll)
    poller.start()
    time.sleep(1.0)  # let the long-poll start waiting
    status, body = sender.send_text(room_id, "after restart", base_url=topology.url("generic2"))
    assert status == 200, body
    poller.join(timeout=40)
    assert not poller.is_alive(), "the long-poll on the restarted worker never returned"
    assert _bodies([e for r, e in timeline_events(result["sync"]) if r == room_id]) == ["after restart"]
    assert result["waited"] < 1.0 + WAKE_UP_S, f"woken only after {result['waited']:.1f}s"
