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
        return MatrixClient(server.base_url, result["user_id"], result["access_token"])

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


async def run_senders(
    pop: Population,
    messages: int,
    concurrency: int,
    meter: PhaseMeter,
    warmup: int,
    drain_s: float,
) -> dict[str, Any]:
    """Phase a: C concurrent clients send M messages spread over R rooms.

    Each client has its own connection; client k acts as user k mod N. CPU is
    metered over the measured sends plus `drain_s` so work the server defers
    past its 200 OK is still charged to the events.
    """
    clients = [
        MatrixClient(u.base_url, u.user_id, u.access_token)
        for u in (pop.users[k % len(pop.users)] for k in range(concurrency))
    ]
    try:
        if warmup:
            await _send_batch(clients, pop.rooms, warmup, "warmup")
        meter.start()
        latencies, wall = await _send_batch(clients, pop.rooms, messages, "message")
        await asyncio.sleep(drain_s)
        cpu = meter.stop()
    finally:
        for c in clients:
            await c.close()
    result: dict[str, Any] = {
        "messages": messages,
        "concurrency": concurrency,
        "rooms": len(pop.rooms),
        "wall_s": wall,
        "events_per_s": messages / wall,
        "send_latency_ms": summarize_ms(latencies),
        "drain_s": drain_s,
        **cpu,
    }
    per_k = 1000.0 / messages
    hs, pg = cpu["homeserver_cpu_s"], cpu["postgres_cpu_s"]
    result["homeserver_cpu_s_per_1k_events"] = hs * per_k if hs is not None else None
    result["postgres_cpu_s_per_1k_events"] = pg * per_k if pg is not None else None
    pg_backends = cpu["postgres_backends_cpu_s"]
    result["postgres_backends_cpu_s_per_1k_events"] = (
        pg_backends * per_k if pg_backends is not None else None
    )
    if hs is not None:
        result["homeserver_plus_db_cpu_s_per_1k_events"] = (hs + (pg or 0.0)) * per_k
    return result


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
