"""Phase d: /sync under ephemeral traffic (typing, receipts, account data, to-device).

N receivers long-poll /sync in a few shared rooms while writes arrive at a
fixed rate, open loop (write i is due at i / rate seconds, whether or not
earlier ones have been answered), cycling through the four kinds:

- typing: a sender toggles its typing state in a room (true, then false the
  next time that sender types in that room); every receiver should see it;
- receipt: a sender posts m.read on the next of a series of messages sent
  into the room during setup (receipts must move forward to count);
- account_data: written for a receiver's own account on a second connection
  (its "other device"), so that receiver's /sync should return it;
- to_device: a sender sends a message to one receiver's device.

A delivery sample is the time from the write's 200 OK to the /sync response
(of one receiver) that first carries it; negative values mean the server
answered the /sync before the writer. Typing carries no id, so a typing
state seen in a response is credited to the latest write of that sender and
room, sent before the response arrived, that set this state; earlier
unseen writes of that pair were superseded and count as not delivered.
Writes of one pair are `4 * senders * rooms / rate` seconds apart, far
longer than a delivery normally takes.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from .matrix_client import JsonDict, MatrixClient
from .procstat import PhaseMeter
from .scenarios import Server, per_1k, register_users
from .stats import summarize_ms

KINDS = ("typing", "receipt", "account_data", "to_device")
# kinds every receiver should see (the others go to one receiver)
ROOM_KINDS = ("typing", "receipt")
ACCOUNT_DATA_TYPE = "org.matrix.bench.ephemeral"
TO_DEVICE_TYPE = "org.matrix.bench.ping"
POLL_TIMEOUT_MS = 30000


@dataclass
class Write:
    """One planned ephemeral write and, once issued, when it was sent and answered."""

    index: int
    kind: str
    sender: int  # typing, receipt, to_device: index of the sending user
    room: int  # typing, receipt
    target: int  # account_data, to_device: index of the receiving user
    typing: bool = False  # typing: the state this write sets
    event: int = 0  # receipt: index of the message it marks read
    sent_at: float = math.nan
    ok_at: float = math.nan


def plan_writes(total: int, senders: int, rooms: int, receivers: int) -> list[Write]:
    """Kinds in turn; within a kind, senders in turn, then rooms; targets in turn."""
    writes = []
    typing_state: dict[tuple[int, int], bool] = {}
    receipts: dict[tuple[int, int], int] = {}
    for i in range(total):
        kind = KINDS[i % len(KINDS)]
        j = i // len(KINDS)
        w = Write(i, kind, j % senders, (j // senders) % rooms, j % receivers)
        pair = (w.sender, w.room)
        if kind == "typing":
            w.typing = typing_state[pair] = not typing_state.get(pair, False)
        elif kind == "receipt":
            w.event = receipts[pair] = receipts.get(pair, -1) + 1
        writes.append(w)
    return writes


def messages_needed(writes: list[Write], rooms: int) -> list[int]:
    """How many messages each room needs so every receipt marks a newer one."""
    need = [0] * rooms
    for w in writes:
        if w.kind == "receipt":
            need[w.room] = max(need[w.room], w.event + 1)
    return need


@dataclass
class Observations:
    """What each receiver's /sync responses carried, and when they arrived."""

    writes: list[Write]
    room_ids: list[str]
    sender_ids: list[str]
    # receipt (room_id, event_id, sender user_id) -> write index
    receipt_keys: dict[tuple[str, str, str], int]
    receivers: int
    seen: list[dict[int, float]] = field(default_factory=list)
    syncs: list[float] = field(default_factory=list)
    # per receiver and (sender, room): typing writes, and how far credited
    _typing: dict[tuple[int, int], list[Write]] = field(default_factory=dict)
    _typing_next: list[dict[tuple[int, int], int]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.seen = [{} for _ in range(self.receivers)]
        self._typing_next = [{} for _ in range(self.receivers)]
        for w in self.writes:
            if w.kind == "typing":
                self._typing.setdefault((w.sender, w.room), []).append(w)

    def _mark(self, receiver: int, index: int, at: float) -> None:
        self.seen[receiver].setdefault(index, at)

    def observe(self, receiver: int, body: JsonDict, at: float) -> None:
        self.syncs.append(at)
        for event in body.get("to_device", {}).get("events", []):
            index = event.get("content", {}).get("bench_write")
            if event.get("type") == TO_DEVICE_TYPE and isinstance(index, int):
                self._mark(receiver, index, at)
        for event in body.get("account_data", {}).get("events", []):
            index = event.get("content", {}).get("bench_write")
            if event.get("type") == ACCOUNT_DATA_TYPE and isinstance(index, int):
                self._mark(receiver, index, at)
        joined = body.get("rooms", {}).get("join", {})
        for room, room_id in enumerate(self.room_ids):
            for event in joined.get(room_id, {}).get("ephemeral", {}).get("events", []):
                content = event.get("content", {})
                if event.get("type") == "m.typing":
                    typing = set(content.get("user_ids", []))
                    self._observe_typing(receiver, room, typing, at)
                elif event.get("type") == "m.receipt":
                    self._observe_receipts(receiver, room_id, content, at)

    def _observe_receipts(
        self, receiver: int, room_id: str, content: JsonDict, at: float
    ) -> None:
        for event_id, by_type in content.items():
            for user_id in by_type.get("m.read", {}):
                index = self.receipt_keys.get((room_id, event_id, user_id))
                if index is not None:
                    self._mark(receiver, index, at)

    def _observe_typing(
        self, receiver: int, room: int, typing: set[str], at: float
    ) -> None:
        for sender, user_id in enumerate(self.sender_ids):
            pair = (sender, room)
            pending = self._typing.get(pair, [])
            start = self._typing_next[receiver].get(pair, 0)
            state = user_id in typing
            credited = None
            for k in range(start, len(pending)):
                if not pending[k].sent_at <= at:  # not sent yet (or nan)
                    break
                if pending[k].typing == state:
                    credited = k
            if credited is not None:
                self._mark(receiver, pending[credited].index, at)
                self._typing_next[receiver][pair] = credited + 1

    def delivery(self, kind: str) -> tuple[list[float], int]:
        """(delivery latencies in seconds, deliveries expected) for one kind."""
        samples, expected = [], 0
        for w in self.writes:
            if w.kind != kind or math.isnan(w.ok_at):
                continue
            targets = range(self.receivers) if kind in ROOM_KINDS else [w.target]
            for r in targets:
                expected += 1
                if w.index in self.seen[r]:
                    samples.append(self.seen[r][w.index] - w.ok_at)
        return samples, expected


@dataclass
class EphemeralConfig:
    receivers: int
    senders: int
    rooms: int
    rate: float  # writes per second, all kinds together
    duration_s: float
    drain_s: float


async def _setup(
    server: Server, cfg: EphemeralConfig, writes: list[Write]
) -> tuple[list[MatrixClient], list[MatrixClient], list[str], list[list[str]]]:
    """Users, rooms everyone joined, and the messages receipts will mark."""
    prefix = f"bench{server.run_id}_eph"
    users = await register_users(
        server,
        [f"{prefix}s{i}" for i in range(cfg.senders)]
        + [f"{prefix}r{i}" for i in range(cfg.receivers)],
    )
    senders, receivers = users[: cfg.senders], users[cfg.senders :]
    rooms = [await senders[0].create_room(f"ephemeral {r}") for r in range(cfg.rooms)]
    await asyncio.gather(*(u.join(room) for room in rooms for u in users[1:]))

    async def fill(room: str, count: int) -> list[str]:
        # one room's messages in order, so each receipt marks a newer event
        return [(await senders[0].send_text(room, f"to mark read {k}"))[0] for k in range(count)]

    need = messages_needed(writes, cfg.rooms)
    events = list(await asyncio.gather(*(fill(r, n) for r, n in zip(rooms, need))))
    return senders, receivers, rooms, events


async def run_ephemeral(
    server: Server, cfg: EphemeralConfig, meter: PhaseMeter
) -> dict[str, Any]:
    """Phase d: delivery latency of ephemeral writes to long-polling receivers."""
    total = max(len(KINDS), round(cfg.rate * cfg.duration_s))
    writes = plan_writes(total, cfg.senders, cfg.rooms, cfg.receivers)
    setup_start = time.perf_counter()
    senders, receivers, rooms, events = await _setup(server, cfg, writes)
    others = [r.other_connection() for r in receivers]
    obs = Observations(
        writes,
        rooms,
        [s.user_id for s in senders],
        {
            (rooms[w.room], events[w.room][w.event], senders[w.sender].user_id): w.index
            for w in writes
            if w.kind == "receipt"
        },
        cfg.receivers,
    )
    polls: list[asyncio.Future[None]] = []
    try:
        tokens = [(await r.sync())[0]["next_batch"] for r in receivers]
        setup_s = time.perf_counter() - setup_start

        def action(w: Write) -> Callable[[], Awaitable[None]]:
            sender = senders[w.sender]
            if w.kind == "typing":
                return lambda: sender.set_typing(rooms[w.room], w.typing)
            if w.kind == "receipt":
                return lambda: sender.send_read_receipt(
                    rooms[w.room], events[w.room][w.event]
                )
            content = {"bench_write": w.index}
            if w.kind == "account_data":
                return lambda: others[w.target].put_account_data(
                    ACCOUNT_DATA_TYPE, content
                )
            target = receivers[w.target]
            return lambda: sender.send_to_device(
                TO_DEVICE_TYPE, target.user_id, target.device_id or "*", content
            )

        async def issue(w: Write, due: float) -> None:
            call = action(w)
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            w.sent_at = time.perf_counter()
            await call()
            w.ok_at = time.perf_counter()

        async def receive(index: int, since: str) -> None:
            client = receivers[index]
            while True:
                body, _ = await client.sync(since, POLL_TIMEOUT_MS)
                obs.observe(index, body, time.perf_counter())
                since = body["next_batch"]

        polls += [asyncio.ensure_future(receive(i, t)) for i, t in enumerate(tokens)]
        await asyncio.sleep(0.2)  # let every long-poll reach the server
        obs.syncs.clear()
        meter.start()
        start = time.perf_counter()
        await asyncio.gather(*(issue(w, start + w.index / cfg.rate) for w in writes))
        writes_done = time.perf_counter()
        await asyncio.sleep(cfg.drain_s)
        cpu = meter.stop()
        end = time.perf_counter()
        for p in polls:
            if p.done():
                p.result()  # a receiver failed: re-raise its error
    finally:
        for p in polls:
            p.cancel()
        await asyncio.gather(*polls, return_exceptions=True)
        for c in senders + receivers + others:
            await c.close()
    return _result(cfg, obs, setup_s, writes_done - start, end - start, cpu)


def _result(
    cfg: EphemeralConfig,
    obs: Observations,
    setup_s: float,
    writes_wall_s: float,
    metered_s: float,
    cpu: dict[str, float | None],
) -> dict[str, Any]:
    writes = obs.writes
    result: dict[str, Any] = {
        "receivers": cfg.receivers,
        "senders": cfg.senders,
        "rooms": cfg.rooms,
        "rate_per_s": cfg.rate,
        "writes": len(writes),
        "setup_s": setup_s,
        "writes_wall_s": writes_wall_s,
        "achieved_writes_per_s": len(writes) / writes_wall_s,
        "drain_s": cfg.drain_s,
        "metered_s": metered_s,
        "syncs_returned": len(obs.syncs),
        "syncs_per_s": len(obs.syncs) / metered_s,
        "write_latency_ms": {},
        "delivery_ms": {},
        "deliveries_expected": {},
        "deliveries_seen": {},
        **cpu,
        **per_1k(cpu, len(writes), "writes"),
    }
    for kind in KINDS:
        result["write_latency_ms"][kind] = summarize_ms(
            [w.ok_at - w.sent_at for w in writes if w.kind == kind]
        )
        samples, expected = obs.delivery(kind)
        result["delivery_ms"][kind] = summarize_ms(samples)
        result["deliveries_expected"][kind] = expected
        result["deliveries_seen"][kind] = len(samples)
    return result
