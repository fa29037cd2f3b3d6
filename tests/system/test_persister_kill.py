"""An event persister killed (SIGKILL) mid-traffic, then restarted.

Messages are sent in a loop to a room persister1 owns. While it is down
each send must end with an error within a bounded time (never hang), rooms
of persister2 keep working, and once persister1 is back sends succeed again.
Every message that was acknowledged (200) is readable afterwards, exactly
once; an unacknowledged one may or may not have been persisted.
"""

from __future__ import annotations

import threading
import time
import urllib.parse
from dataclasses import dataclass

from tests.support.topology import Topology
from tests.system.client import User, rooms_on_every_persister

ROOMS = 6
# no send may take longer than this, outage or not
SEND_BOUND_S = 20.0
# persister1 stays down this long: over twice the callers' retries (about
# 6 s), so at least one send starts and ends within the outage
OUTAGE_S = 16.0
# after the restart, sends to its rooms succeed again within this
RECOVERY_S = 30.0


@dataclass
class Attempt:
    text: str
    started: float
    ended: float
    status: int | None  # None: no answer within the bound
    event_id: str | None


class Sender:
    """Sends numbered messages to one room in a loop, recording each outcome."""

    def __init__(self, user: User, room_id: str) -> None:
        self.user = user
        self.room_id = room_id
        self.attempts: list[Attempt] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        n = 0
        while not self._stop.is_set():
            text = f"message {n}"
            n += 1
            started = time.monotonic()
            try:
                status, body = self.user.send_text(self.room_id, text, timeout=SEND_BOUND_S + 10)
            except OSError:  # includes the client's own timeout
                status, body = None, {}
            ended = time.monotonic()
            event_id = body.get("event_id") if status == 200 else None
            self.attempts.append(Attempt(text, started, ended, status, event_id))
            time.sleep(0.1)

    def acknowledged(self) -> list[Attempt]:
        return [a for a in self.attempts if a.status == 200]

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=SEND_BOUND_S + 15)


def _wait(predicate: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.1)
    return False


def test_killed_event_persister_loses_no_acknowledged_message(topology: Topology) -> None:
    user = User.register(topology.base_url, "sender")
    owned = rooms_on_every_persister(user, topology.query, ROOMS)
    room_1, room_2 = owned["persister1"][0], owned["persister2"][0]

    sender = Sender(user, room_1)
    sender.start()
    try:
        assert _wait(lambda: len(sender.acknowledged()) >= 3, RECOVERY_S), sender.attempts
        assert topology.kill("persister1") == -9
        killed_at = time.monotonic()

        # the other persister's rooms are not affected
        while time.monotonic() - killed_at < OUTAGE_S:
            status, body = user.send_text(room_2, "other shard", timeout=SEND_BOUND_S)
            assert status == 200, f"persister2's room failed during persister1's outage: {status} {body}"
            time.sleep(0.5)

        restarting_at = time.monotonic()
        topology.start("persister1")
        assert _wait(lambda: any(a.status == 200 and a.started > restarting_at for a in sender.attempts), RECOVERY_S), (
            f"sends to persister1's room still fail after its restart: {sender.attempts[-3:]}"
        )
    finally:
        sender.stop()

    slow = [a for a in sender.attempts if a.status is None or a.ended - a.started > SEND_BOUND_S]
    assert not slow, f"sends that hung: {slow}"
    during = [a for a in sender.attempts if a.started > killed_at and a.ended < restarting_at]
    assert during, "no send was attempted during the outage"
    accepted = [a for a in during if a.status == 200]
    assert not accepted, f"sends acknowledged while the room's persister was down: {accepted}"

    acknowledged = sender.acknowledged()
    for attempt in acknowledged:
        path = f"/rooms/{urllib.parse.quote(room_1)}/event/{urllib.parse.quote(attempt.event_id or '')}"
        event = user.ok("GET", path)
        assert event["content"]["body"] == attempt.text
    timeline = [e for e in user.messages(room_1) if e["type"] == "m.room.message"]
    event_ids = [e["event_id"] for e in timeline]
    assert len(event_ids) == len(set(event_ids))
    texts = [e["content"]["body"] for e in timeline]
    assert len(texts) == len(set(texts)), "a message was persisted twice"
    missing = {a.event_id for a in acknowledged} - set(event_ids)
    assert not missing, f"acknowledged messages missing from /messages: {missing}"
