"""ReplicationPositions: publishing local writes, applying remote ones,
waking the notifier, waiting for positions, metrics.

Several generators on one database stand for several processes; `LinkedBus`
connects their buses in memory (the Redis bus is tested on its own and end
to end in test_http_replication)."""

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from twisted.internet import defer

from synapse.replication.bus import InProcessBus
from synapse.replication.metrics import ReplicationMetrics
from synapse.replication.positions import StreamUpdates
from synapse.storage.database import DatabasePool
from tests.replication.processes import LinkedBus, Process
from tests.replication.util import Recorder, eventually
from tests.support.twisted import run


def _network(pool: DatabasePool, *instances: str, writers: list[str] | None = None) -> list[Process]:
    network: list[LinkedBus] = []
    return [Process(pool, name, writers or ["w1"], LinkedBus(name, network)) for name in instances]


def test_monolith_write_publishes_its_position_once(db_pool):
    bus = InProcessBus("main")
    main = Process(db_pool, "main", ["main"], bus)
    heard = Recorder()
    bus.subscribe("events", heard)

    first = run(main.write())
    second = run(main.write())
    # a notification that moves nothing publishes nothing
    run(lambda: main.notifier.on_new_event("events", second))
    assert heard.heard == [("main", first), ("main", second)]


def test_publishes_the_writer_position_not_the_newest_id(db_pool):
    """With a lower id still in flight, the newer write's id is not safe to publish."""
    bus = InProcessBus("main")
    main = Process(db_pool, "main", ["main"], bus)
    heard = Recorder()
    bus.subscribe("events", heard)

    async def scenario() -> None:
        slow = main.gen.get_next()
        slow_id = await slow.__aenter__()
        fast_id = await main.write()
        assert fast_id == slow_id + 1
        # the writer's position is still below slow_id
        assert heard.latest("main") < slow_id
        await slow.__aexit__(None, None, None)
        main.notifier.on_new_event("events", slow_id)
        assert heard.heard[-1] == ("main", fast_id)

    run(scenario())


def test_remote_write_advances_reader_and_wakes_touched_rooms(db_pool):
    writer, reader = _network(db_pool, "w1", "reader")
    ranges: list[tuple[str, int, int]] = []

    async def events_reader(instance: str, from_pos: int, to_pos: int) -> StreamUpdates:
        ranges.append((instance, from_pos, to_pos))
        return StreamUpdates(rooms=["!room:hs"], users=["@bob:hs"])

    reader.positions.register_stream_reader("events", events_reader)
    start = reader.gen.get_current_token()

    async def scenario() -> tuple[float, float]:
        began = reader.clock.time()
        finished: dict[str, float] = {}

        async def wait(name: str, user: str, room: str) -> None:
            assert await reader.notifier.wait_for_events(
                user, [room], 1000, lambda: _ready(reader.gen.get_current_token() > start)
            )
            finished[name] = reader.clock.time() - began

        in_room = defer.ensureDeferred(wait("in_room", "@alice:hs", "!room:hs"))
        elsewhere = defer.ensureDeferred(wait("elsewhere", "@carol:hs", "!other:hs"))
        await writer.write()
        await defer.gatherResults([in_room, elsewhere], consumeErrors=True)
        return finished["in_room"], finished["elsewhere"]

    in_room, elsewhere = run(scenario())
    assert in_room < 0.5
    # not woken by the write: it only sees the new token at its own timeout
    assert elsewhere >= 0.95
    assert ranges == [("w1", start, start + 1)]
    assert reader.gen.get_current_token() == start + 1


def test_range_read_first_is_recorded_before_the_token_moves(db_pool):
    """With read_range_first, the reader hook runs while the reader's position
    is still below the range, and the change cache holds the range's rooms by
    the time the token covers it: a /sync reading that token misses nothing."""
    writer, reader = _network(db_pool, "w1", "reader")
    start = reader.gen.get_current_token()
    cache = reader.notifier.track_changes("events", start)
    seen_positions: list[int] = []

    async def range_reader(instance: str, from_pos: int, to_pos: int) -> StreamUpdates:
        seen_positions.append(reader.gen.get_current_token())
        return StreamUpdates(rooms=["!room:hs"])

    reader.positions.register_stream_reader("events", range_reader, read_range_first=True)
    run(writer.write())
    run(lambda: eventually(lambda: reader.gen.get_current_token() == start + 1, what="the reader's token"))
    assert seen_positions == [start]
    assert cache.changed_since(["!room:hs", "!other:hs"], start) == {"!room:hs"}


async def _ready(value: bool) -> bool:
    return value


def test_without_a_stream_reader_every_waiter_wakes(db_pool):
    writer, reader = _network(db_pool, "w1", "reader")
    start = reader.gen.get_current_token()

    async def scenario() -> float:
        began = reader.clock.time()
        waiting = defer.ensureDeferred(
            reader.notifier.wait_for_events(
                "@carol:hs", ["!unrelated:hs"], 10_000, lambda: _ready(reader.gen.get_current_token() > start)
            )
        )
        await writer.write()
        assert await waiting
        return reader.clock.time() - began

    assert run(scenario()) < 5


def test_failing_stream_reader_falls_back_to_waking_everyone(db_pool):
    writer, reader = _network(db_pool, "w1", "reader")

    async def broken(instance: str, from_pos: int, to_pos: int) -> StreamUpdates:
        raise RuntimeError("boom")

    reader.positions.register_stream_reader("events", broken)
    start = reader.gen.get_current_token()

    async def scenario() -> bool:
        waiting = defer.ensureDeferred(
            reader.notifier.wait_for_events(
                "@carol:hs", ["!x:hs"], 10_000, lambda: _ready(reader.gen.get_current_token() > start)
            )
        )
        await writer.write()
        return await waiting

    assert run(scenario(), timeout=5) is True


def test_wait_for_position(db_pool):
    writer, reader = _network(db_pool, "w1", "reader")
    start = reader.gen.get_current_token()

    async def scenario() -> tuple[bool, bool, bool, bool]:
        already = await reader.positions.wait_for_position("events", "w1", start)
        waiting = defer.ensureDeferred(reader.positions.wait_for_position("events", "w1", start + 2, timeout=10))
        await writer.write()
        assert not waiting.called
        await writer.write()
        reached = await waiting
        timed_out = await reader.positions.wait_for_position("events", "w1", start + 10, timeout=0.2)
        not_a_writer = await reader.positions.wait_for_position("events", "nobody", 1, timeout=10)
        return already, reached, timed_out, not_a_writer

    assert run(scenario()) == (True, True, False, False)


def test_replicate_republishes_every_written_stream(db_pool):
    writer, reader = _network(db_pool, "w1", "reader")
    heard = Recorder()
    reader.bus.subscribe("events", heard)
    run(writer.write())
    heard.heard.clear()
    run(lambda: reader.bus.replicate())  # type: ignore[attr-defined]
    # only the writer answers
    assert heard.heard == [("w1", writer.gen.get_current_token())]


def test_idle_writer_of_a_sharded_stream_follows_and_publishes(db_pool):
    """w2 writes nothing; when w1 moves on, w2's own position follows and it
    publishes that, so a reader's token (the minimum) is not held back."""
    network: list[LinkedBus] = []
    writers = ["w1", "w2"]
    w1, _w2, reader = (Process(db_pool, name, writers, LinkedBus(name, network)) for name in ("w1", "w2", "reader"))
    start = reader.gen.get_current_token()

    written = run(w1.write())
    run(eventually(lambda: reader.gen.get_current_token() == written, timeout=5))
    assert reader.gen.get_positions() == {"w1": written, "w2": written}
    assert start < written


def test_positions_ignore_unknown_writers(db_pool):
    (reader,) = _network(db_pool, "reader")
    before = reader.gen.get_positions()
    run(lambda: reader.bus._deliver("events", "stranger", 99))
    run(lambda: reader.bus._deliver("no_such_stream", "w1", 99))
    assert reader.gen.get_positions() == before


def test_metrics_show_positions_lag_and_bus_state(db_pool):
    _writer, reader = _network(db_pool, "w1", "reader")
    bus = InProcessBus("reader")
    registry = CollectorRegistry()
    registry.register(ReplicationMetrics(bus, reader.positions))
    base = reader.gen.get_current_token()

    reader.gen.advance("w1", base + 5)  # the only writer: the token follows, no lag
    text = generate_latest(registry).decode()
    assert f'synapse_replication_stream_position{{stream="events",writer="w1"}} {float(base + 5)}' in text
    assert 'synapse_replication_stream_lag{stream="events"} 0.0' in text
    assert "synapse_replication_bus_connected 1.0" in text


def test_metrics_install_replaces_the_previous_collector(db_pool):
    (first,) = _network(db_pool, "reader")
    (second,) = _network(db_pool, "reader2")
    registry = CollectorRegistry()
    ReplicationMetrics.install(first.bus, first.positions, registry)
    ReplicationMetrics.install(second.bus, second.positions, registry)
    text = generate_latest(registry).decode()
    assert text.count("synapse_replication_bus_connected 1.0") == 1


def test_metrics_lag_with_two_writers(db_pool):
    network: list[LinkedBus] = []
    reader = Process(db_pool, "reader", ["w1", "w2"], LinkedBus("reader", network))
    registry = CollectorRegistry()
    registry.register(ReplicationMetrics(reader.bus, reader.positions))
    base = reader.gen.get_current_token()
    reader.gen.advance("w1", base + 4)
    assert reader.positions.stream_lag("events") == 4
    registry_text = generate_latest(registry).decode()
    assert 'synapse_replication_stream_lag{stream="events"} 4.0' in registry_text


def test_register_stream_reader_once(db_pool):
    (reader,) = _network(db_pool, "reader")

    async def hook(i: str, a: int, b: int) -> None:
        return None

    reader.positions.register_stream_reader("events", hook)
    with pytest.raises(ValueError):
        reader.positions.register_stream_reader("events", hook)


def test_wait_for_position_reads_stored_positions_while_the_bus_is_down(db_pool):
    """With Redis down no POSITION arrives; a caller waiting for a write it
    asked for reads the writer's stored position instead of timing out."""
    import functools

    from synapse.replication.bus import BusState
    from synapse.replication.positions import ReplicationPositions
    from synapse.storage.id_generators import load_stored_position

    class DownBus(LinkedBus):
        def publish(self, stream: str, position: int) -> None:
            self._deliver(stream, self.instance_name, position)  # nobody else hears it

        def state(self) -> BusState:
            return BusState(state="reconnecting", last_message_at=None, reconnects=1)

    network: list[LinkedBus] = []
    writer = Process(db_pool, "w1", ["w1"], DownBus("w1", network))
    reader = Process(db_pool, "reader", ["w1"], DownBus("reader", network))
    reader.positions = ReplicationPositions(
        "reader",
        reader.generators,
        reader.bus,
        reader.notifier,
        reader.clock,
        stored_position=functools.partial(load_stored_position, db_pool),
    )

    async def recorded_write() -> int:
        async with writer.gen.get_next() as stream_id:
            await db_pool.runInteraction("write", writer.gen.record_position_txn, stream_id)
        writer.notifier.on_new_event("events", stream_id)
        return stream_id

    async def scenario() -> tuple[bool, int]:
        written = await recorded_write()
        reached = await reader.positions.wait_for_position("events", "w1", written, timeout=5)
        return reached, written

    reached, written = run(scenario())
    assert reached
    assert reader.gen.get_current_token_for_writer("w1") >= written
