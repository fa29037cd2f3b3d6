"""The measured phases of the benchmark.

Each phase uses fresh users (names carry a per-run id) so runs never collide
with earlier data on the same server, and each returns a plain dict that goes
into the JSON output unchanged.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

from .matrix_client import (
    MatrixClient,
    login_fresh_device,
    new_session,
    register_with_shared_secret,
    timeline_event_ids,
)
from .procstat import PhaseMeter
from .stats import summarize_ms

T = TypeVar("T")
PASSWORD = "bench-password-1"


@dataclass
class Server:
    """Where to reach the homeserver and how to make accounts on it."""

    base_url: str
    shared_secret: str
    run_id: str
    # where the admin registration API is served, if not at base_url (a
    # reverse proxy in front of workers does not route /_synapse/admin)
    admin_url: str | None = None


async def register_users(
    server: Server, names: list[str], parallel: int = 4
) -> list[MatrixClient]:
    """Register accounts (bounded parallelism: password hashing is CPU-heavy)."""
    session = new_session(parallel)
    gate = asyncio.Semaphore(parallel)

    async def one(localpart: str) -> MatrixClient:
        async with gate:
            result = await register_with_shared_secret(
                session,
                server.admin_url or server.base_url,
                server.shared_secret,
                localpart,
                PASSWORD,
            )
        return MatrixClient(
            server.base_url,
            result["user_id"],
            result["access_token"],
            result.get("device_id"),
        )

    try:
        return list(await asyncio.gather(*(one(n) for n in names)))
    finally:
        await session.close()


async def _bounded(
    parallel: int, jobs: Sequence[Callable[[], Awaitable[T]]]
) -> list[T]:
    gate = asyncio.Semaphore(parallel)

    async def run(job: Callable[[], Awaitable[T]]) -> T:
        async with gate:
            return await job()

    return list(await asyncio.gather(*(run(j) for j in jobs)))


@dataclass
class Population:
    """Benchmark users, all joined to all benchmark rooms."""

    users: list[MatrixClient]
    rooms: list[str]

    async def close(self) -> None:
        for user in self.users:
            await user.close()


async def setup_population(
    server: Server, n_users: int, n_rooms: int
) -> tuple[Population, float]:
    """Register users, create rooms (creators spread over users), join all."""
    start = time.perf_counter()
    users = await register_users(
        server, [f"bench{server.run_id}_u{i}" for i in range(n_users)]
    )
    creators = [users[r % n_users] for r in range(n_rooms)]
    rooms = await _bounded(
        4,
        [partial(c.create_room, f"bench room {r}") for r, c in enumerate(creators)],
    )
    joins = [
        partial(u.join, room)
        for r, room in enumerate(rooms)
        for u in users
        if u is not creators[r]
    ]
    await _bounded(8, joins)
    return Population(users, rooms), time.perf_counter() - start


async def _send_batch(
    clients: list[MatrixClient], rooms: list[str], count: int, label: str
) -> tuple[list[float], float]:
    """`count` messages from all clients at once, message i to room i % R."""
    counter = iter(range(count))
    latencies: list[float] = []

    async def worker(client: MatrixClient) -> None:
        for i in counter:
            _, elapsed = await client.send_text(rooms[i % len(rooms)], f"{label} {i}")
            latencies.append(elapsed)

    start = time.perf_counter()
    await asyncio.gather(*(worker(c) for c in clients))
    return latencies, time.perf_counter() - start


def per_1k(cpu: dict[str, float | None], count: int, unit: str) -> dict[str, float]:
    """The phase's CPU figures scaled to 1,000 `unit`s (events, writes)."""
    per_k = 1000.0 / count
    hs, pg = cpu["homeserver_cpu_s"], cpu["postgres_cpu_s"]
    pg_backends = cpu["postgres_backends_cpu_s"]
    out = {
        f"homeserver_cpu_s_per_1k_{unit}": hs * per_k if hs is not None else None,
        f"postgres_cpu_s_per_1k_{unit}": pg * per_k if pg is not None else None,
        f"postgres_backends_cpu_s_per_1k_{unit}": (
            pg_backends * per_k if pg_backends is not None else None
        ),
    }
    if hs is not None:
        out[f"homeserver_plus_db_cpu_s_per_1k_{unit}"] = (hs + (pg or 0.0)) * per_k
    return out


async def run_senders(
    users: Sequence[MatrixClient],
    rooms: list[str],
    messages: int,
    concurrency: int,
    meter: PhaseMeter,
    warmup: int,
    drain_s: float,
) -> dict[str, Any]:
    """Phase a (and the measured part of e): C clients send M messages over the rooms.

    Each client has its own connection; client k acts as user k mod N. CPU is
    metered over the measured sends plus `drain_s` so work the server defers
    past its 200 OK is still charged to the events.
    """
    clients = [
        u.other_connection() for u in (users[k % len(users)] for k in range(concurrency))
    ]
    try:
        if warmup:
            await _send_batch(clients, rooms, warmup, "warmup")
        meter.start()
        latencies, wall = await _send_batch(clients, rooms, messages, "message")
        await asyncio.sleep(drain_s)
        cpu = meter.stop()
    finally:
        for c in clients:
            await c.close()
    return {
        "messages": messages,
        "concurrency": concurrency,
        "rooms": len(rooms),
        "wall_s": wall,
        "events_per_s": messages / wall,
        "send_latency_ms": summarize_ms(latencies),
        "drain_s": drain_s,
        **cpu,
        **per_1k(cpu, messages, "events"),
    }


async def run_large_room(
    server: Server,
    members: int,
    messages: int,
    concurrency: int,
    meter: PhaseMeter,
    warmup: int,
    drain_s: float,
) -> dict[str, Any]:
    """Phase e: sends into one room of `members` joined users.

    Every event is evaluated against the push rules of every member (and
    counted for their notifications), so the per-event cost grows with the
    membership; this phase shows that cost end to end. The first
    `concurrency` members send; nobody syncs.
    """
    start = time.perf_counter()
    users = await register_users(
        server, [f"bench{server.run_id}_big{i}" for i in range(members)]
    )
    try:
        room = await users[0].create_room("large room")
        await _bounded(8, [partial(u.join, room) for u in users[1:]])
        setup_s = time.perf_counter() - start
        result = await run_senders(
            users[:concurrency], [room], messages, concurrency, meter, warmup, drain_s
        )
    finally:
        for u in users:
            await u.close()
    # setup_s: registering the members (password hashing) and their joins
    return {"members": members, "setup_s": setup_s, **result}


async def _stamped(aw: Awaitable[T]) -> tuple[T, float]:
    """Await and note the moment the result arrived (no extra loop turn)."""
    value = await aw
    return value, time.perf_counter()


async def run_sync_wakeup(
    server: Server, samples: int, park_s: float
) -> dict[str, Any]:
    """Phase b: time from a send's 200 OK to a parked /sync returning it.

    The receiver long-polls (timeout 30000) and is given `park_s` to reach the
    server before the sender sends. Wake-ups without the event (presence,
    receipts...) are counted and the poll is re-parked; the sample ends at the
    /sync response that carries the event. Negative values would mean the
    server answered the /sync before the sender's PUT.
    """
    sender, receiver = await register_users(
        server, [f"bench{server.run_id}_wsend", f"bench{server.run_id}_wrecv"]
    )
    try:
        room = await sender.create_room("sync wake-up")
        await receiver.join(room)
        body, _ = await receiver.sync()
        since = body["next_batch"]
        latencies: list[float] = []
        early, extra = 0, 0
        for i in range(samples):
            while True:
                poll = asyncio.ensure_future(_stamped(receiver.sync(since, 30000)))
                await asyncio.sleep(park_s)
                if not poll.done():
                    break
                (body, _), _ = poll.result()
                since = body["next_batch"]
                early += 1
            (event_id, _), sent_at = await _stamped(sender.send_text(room, f"wake {i}"))
            while True:
                (body, _), returned_at = await poll
                since = body["next_batch"]
                if event_id in timeline_event_ids(body, room):
                    break
                extra += 1
                poll = asyncio.ensure_future(_stamped(receiver.sync(since, 30000)))
            latencies.append(returned_at - sent_at)
    finally:
        await sender.close()
        await receiver.close()
    return {
        "samples": samples,
        "park_ms": park_s * 1000,
        "wakeup_ms": summarize_ms(latencies),
        "early_wakeups_before_send": early,
        "wakeups_without_the_event": extra,
    }


async def run_initial_sync(
    server: Server, rooms: list[str], samples: int
) -> dict[str, Any]:
    """Phase c: full /sync of a small account, each on a freshly logged-in device.

    Fresh devices defeat per-device response caches; login and logout are not
    timed, only the /sync.
    """
    localpart = f"bench{server.run_id}_initial"
    (user,) = await register_users(server, [localpart])
    try:
        for room in rooms:
            await user.join(room)
    finally:
        await user.close()
    times: list[float] = []
    sizes: list[int] = []
    for _ in range(samples):
        client = await login_fresh_device(server.base_url, localpart, PASSWORD)
        try:
            body, elapsed = await client.sync()
            times.append(elapsed)
            sizes.append(len(body.get("rooms", {}).get("join", {})))
            await client.logout()
        finally:
            await client.close()
    return {
        "samples": samples,
        "joined_rooms": len(rooms),
        "rooms_in_response": max(sizes) if sizes else 0,
        "initial_sync_ms": summarize_ms(times),
    }
