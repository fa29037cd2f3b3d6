"""Two event persisters, one events stream: /sync never skips or repeats.

Rooms are sharded over persister1 and persister2, so their events get stream
positions from two writers that advance at different speeds. A client that
syncs in a loop with the `next_batch` tokens must still see every event
exactly once, each room in the order it was sent, with no gap ("limited").
One reader syncs through nginx (always the same worker); another alternates
between the two generic workers directly, since a token from one worker
must be valid on any other (nginx moves users when workers come and go).
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from tests.support.topology import Topology
from tests.system.client import User, limited_rooms, rooms_on_every_persister, timeline_events

ROOMS = 8
MESSAGES_PER_ROOM = 12
SYNC_DEADLINE_S = 30.0


class Reader:
    """A user syncing in a loop; records every timeline event it is given."""

    def __init__(self, user: User, base_urls: list[str]) -> None:
        self.user = user
        self.base_urls = base_urls
        self.seen: list[tuple[str, str]] = []  # (room_id, event_id) in arrival order
        self.problems: list[str] = []
        self._syncs = 0

    def sync_once(self, timeout_ms: int) -> None:
        base_url = self.base_urls[self._syncs % len(self.base_urls)]
        self._syncs += 1
        answer = self.user.sync(timeout_ms=timeout_ms, base_url=base_url)
        if limited_rooms(answer):
            self.problems.append(f"limited timeline (a gap) in {limited_rooms(answer)} from {base_url}")
        self.seen += [(room_id, event["event_id"]) for room_id, event in timeline_events(answer)]


def test_incremental_sync_sees_every_event_exactly_once(topology: Topology) -> None:
    writer = User.register(topology.base_url, "writer")
    owned = rooms_on_every_persister(writer, topology.query, ROOMS)
    owners = {room_id: persister for persister, room_ids in owned.items() for room_id in room_ids}
    rooms = list(owners)
    via_nginx = Reader(User.register(topology.base_url, "reader"), [topology.base_url])
    alternating = Reader(
        User.register(topology.base_url, "hopper"), [topology.url("generic1"), topology.url("generic2")]
    )
    for reader in (via_nginx, alternating):
        for room_id in rooms:
            reader.user.join(room_id)
        reader.sync_once(0)  # the initial sync: history before this is not counted

    split = topology.query(
        "SELECT room_id FROM events WHERE room_id = ANY(%s) GROUP BY room_id HAVING COUNT(DISTINCT instance_name) > 1",
        rooms,
    )
    assert not split, f"rooms written by more than one persister: {split}"

    sent: dict[str, list[str]] = {room_id: [] for room_id in rooms}
    failures: list[str] = []

    def send_all(room_id: str) -> None:
        for i in range(MESSAGES_PER_ROOM):
            status, body = writer.send_text(room_id, f"message {i}")
            if status != 200:
                failures.append(f"send to {room_id} -> {status} {body}")
                return
            sent[room_id].append(body["event_id"])

    done = threading.Event()

    def keep_syncing(reader: Reader) -> None:
        while not done.is_set():
            reader.sync_once(1000)

    with ThreadPoolExecutor(max_workers=len(rooms) + 2) as pool:
        syncing = [pool.submit(keep_syncing, r) for r in (via_nginx, alternating)]
        for future in [pool.submit(send_all, room_id) for room_id in rooms]:
            future.result()
        done.set()
        for future in syncing:
            future.result()
    assert not failures, failures

    expected = {event_id for ids in sent.values() for event_id in ids}
    for reader in (via_nginx, alternating):
        deadline = time.monotonic() + SYNC_DEADLINE_S
        while not expected <= {e for _, e in reader.seen} and time.monotonic() < deadline:
            reader.sync_once(1000)
        assert not reader.problems, reader.problems
        event_ids = [e for _, e in reader.seen]
        repeated = {e for e in event_ids if event_ids.count(e) > 1}
        assert not repeated, f"events delivered more than once: {repeated}"
        missing = expected - set(event_ids)
        assert not missing, f"{len(missing)} of {len(expected)} acknowledged events never synced"
        for room_id, ids in sent.items():
            order = [e for r, e in reader.seen if r == room_id and e in expected]
            assert order == ids, f"room {room_id} ({owners[room_id]}) synced out of order"
