"""Redis stops mid-run and comes back: no acknowledged message is lost and
no /sync long-poller is left sleeping.

A reader long-polls /sync on generic2 directly with a long timeout, so a
message reaches it within the bounds below only if generic2 is woken (by
replication), not because its poll timed out. Messages go in through nginx
while Redis is down, concurrently: each must be answered (acknowledged or
refused) within a bound; a caller waits at most 30 s for a write's position
to be replicated (synapse.replication.positions) before answering anyway.
After Redis is back every acknowledged message must reach the reader within
a bounded time, and later messages arrive as promptly as before the outage.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from tests.support.topology import Topology
from tests.system.client import User, timeline_events

POLL_TIMEOUT_MS = 60_000
# a live message reaches the long-poller within this
LIVE_S = 5.0
# after Redis returns, everything sent during the outage arrives within this
RECOVERY_S = 30.0
DURING_OUTAGE = 3
# a send during the outage is answered within this (the position wait, plus margin)
OUTAGE_SEND_BOUND_S = 35.0


class LongPoller:
    """Long-polls /sync in a thread; records when each message arrived."""

    def __init__(self, user: User, base_url: str, room_id: str) -> None:
        self.user = user
        self.base_url = base_url
        self.room_id = room_id
        self.arrived: dict[str, float] = {}  # event_id -> monotonic time
        self.errors: list[BaseException] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self.user.sync(base_url=self.base_url)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                answer = self.user.sync(timeout_ms=POLL_TIMEOUT_MS, base_url=self.base_url)
            except BaseException as e:  # reported by the test, not lost in the thread
                self.errors.append(e)
                return
            now = time.monotonic()
            for room_id, event in timeline_events(answer):
                if room_id == self.room_id:
                    self.arrived.setdefault(event["event_id"], now)

    def wait_for(self, event_ids: list[str], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self.errors:
            if all(e in self.arrived for e in event_ids):
                return
            time.sleep(0.05)
        assert not self.errors, self.errors
        missing = [e for e in event_ids if e not in self.arrived]
        raise AssertionError(f"{len(missing)} of {len(event_ids)} messages not delivered within {timeout}s")

    def stop(self) -> None:
        self._stop.set()


def _send(sender: User, room_id: str, text: str) -> tuple[str, float]:
    status, body = sender.send_text(room_id, text)
    assert status == 200, f"{text!r} -> {status} {body}"
    return body["event_id"], time.monotonic()


def _send_during_outage(sender: User, room_id: str, text: str) -> str | None:
    """The event id if acknowledged; None if refused (with a JSON error) in time."""
    started = time.monotonic()
    try:
        status, body = sender.send_text(room_id, text, timeout=OUTAGE_SEND_BOUND_S)
    except OSError as e:
        raise AssertionError(f"{text!r} not answered within {OUTAGE_SEND_BOUND_S}s ({e!r})") from None
    assert time.monotonic() - started < OUTAGE_SEND_BOUND_S
    if status == 200:
        return body["event_id"]
    assert "errcode" in body, (status, body)
    return None


def test_redis_outage_loses_no_message_and_no_wake_up(topology: Topology) -> None:
    sender = User.register(topology.base_url, "sender")
    reader = User.register(topology.base_url, "reader")
    room_id = sender.create_room()
    reader.join(room_id)
    poller = LongPoller(reader, topology.url("generic2"), room_id)
    poller.start()
    after_ids: list[str] = []
    try:
        time.sleep(0.5)
        before, sent_at = _send(sender, room_id, "before the outage")
        poller.wait_for([before], LIVE_S)
        assert poller.arrived[before] - sent_at < LIVE_S

        topology.stop_redis()
        with ThreadPoolExecutor(DURING_OUTAGE) as pool:
            answers = list(
                pool.map(lambda i: _send_during_outage(sender, room_id, f"during the outage {i}"), range(DURING_OUTAGE))
            )
        during = [event_id for event_id in answers if event_id is not None]
        time.sleep(1.0)
        topology.start_redis()
        poller.wait_for(during, RECOVERY_S)

        # and the bus is live again, not just caught up once
        for i in range(3):
            after, sent_at = _send(sender, room_id, f"after the outage {i}")
            poller.wait_for([after], LIVE_S)
            assert poller.arrived[after] - sent_at < LIVE_S
            after_ids.append(after)
    finally:
        poller.stop()
        if topology.redis.process is None:
            topology.start_redis()
    # a sync from scratch agrees: every acknowledged message, once each, in
    # order (a refused send may still have been persisted: ambiguous, allowed)
    fresh = User(reader.user_id, reader.access_token, topology.url("generic1"))
    timeline = [e for r, e in timeline_events(fresh.sync()) if r == room_id and e["type"] == "m.room.message"]
    ids = [e["event_id"] for e in timeline]
    assert len(ids) == len(set(ids)), "a message synced twice"
    assert ids[0] == before and ids[-len(after_ids) :] == after_ids, ids
    assert set(during) <= set(ids[1 : -len(after_ids)]), "an acknowledged message is missing"
