"""StreamIdGenerator: allocation, out-of-order completion, several writers, restarts."""

import random

import pytest
from twisted.internet import defer, reactor
from twisted.internet.task import deferLater

from synapse.storage.database import DatabasePool, LoggingTransaction
from synapse.storage.id_generators import StreamIdGenerator
from synapse.storage.prepare import prepare_database
from tests.support.twisted import run


def _create(pool: DatabasePool, instance: str = "main", writers: list[str] | None = None) -> StreamIdGenerator:
    return run(StreamIdGenerator.create(pool, "things", instance, writers or [instance]))


class _Held:
    """An allocation entered but not yet left: an id whose write is in flight."""

    def __init__(self, allocation) -> None:
        self._allocation = allocation
        self.value = run(allocation.__aenter__())

    def finish(self) -> None:
        run(self._allocation.__aexit__(None, None, None))


def _persist(pool: DatabasePool, gen: StreamIdGenerator, stream_id: int) -> None:
    """What a writer does in its own transaction: write the row and record its position."""

    def write(txn: LoggingTransaction) -> None:
        txn.execute("INSERT INTO stream_rows (stream_id, writer) VALUES (?, ?)", (stream_id, gen.instance_name))
        gen.record_position_txn(txn, stream_id)

    run(pool.runInteraction("persist", write))


def _stored_positions(pool: DatabasePool) -> dict[str, int]:
    rows = run(pool.execute("read", "SELECT instance_name, position FROM stream_positions WHERE stream_name = 'things'"))
    return dict(rows)


@pytest.fixture
def pool(db_pool: DatabasePool) -> DatabasePool:
    run(db_pool.execute("create", "CREATE TABLE stream_rows (stream_id BIGINT PRIMARY KEY, writer TEXT NOT NULL)"))
    return db_pool


def test_ids_increase_and_token_follows_finished_ids(pool):
    gen = _create(pool)
    assert gen.get_current_token() == 0

    async def allocate_two() -> list[int]:
        ids = []
        for _ in range(2):
            async with gen.get_next() as stream_id:
                ids.append(stream_id)
                assert gen.get_current_token() == stream_id - 1  # in flight: not yet visible
        return ids

    assert run(allocate_two()) == [1, 2]
    assert gen.get_current_token() == 2
    assert gen.get_persisted_upto_position() == 2
    assert gen.get_current_token_for_writer("main") == 2
    assert gen.get_positions() == {"main": 2}


def test_get_next_mult(pool):
    gen = _create(pool)

    async def allocate() -> list[int]:
        async with gen.get_next_mult(3) as ids:
            assert gen.get_current_token() == 0
            return ids

    assert run(allocate()) == [1, 2, 3]
    assert gen.get_current_token() == 3
    with pytest.raises(ValueError):
        gen.get_next_mult(0)


def test_out_of_order_completion_never_skips_an_unfinished_id(pool):
    gen = _create(pool)
    first, second, third = _Held(gen.get_next()), _Held(gen.get_next()), _Held(gen.get_next())
    assert (first.value, second.value, third.value) == (1, 2, 3)

    third.finish()
    assert gen.get_current_token() == 0
    first.finish()
    assert gen.get_current_token() == 1  # 2 is still in flight
    second.finish()
    assert gen.get_current_token() == 3


def test_failed_write_still_finishes_its_id(pool):
    gen = _create(pool)

    async def failing_write() -> None:
        async with gen.get_next():
            raise RuntimeError("write failed")

    with pytest.raises(RuntimeError):
        run(failing_write())
    # The id is abandoned, not persisted: nothing holds the token back.
    assert gen.get_current_token() == 1


def test_record_position_stays_below_other_in_flight_ids(pool):
    gen = _create(pool)
    first, second = _Held(gen.get_next()), _Held(gen.get_next())
    _persist(pool, gen, second.value)
    # `first` could still commit later: a reader starting now must not skip it.
    assert _stored_positions(pool) == {"main": first.value - 1}
    second.finish()
    _persist(pool, gen, first.value)
    first.finish()
    assert _stored_positions(pool) == {"main": first.value}

    # A batch's own ids do not hold its position back.
    batch = _Held(gen.get_next_mult(3))
    _persist(pool, gen, batch.value[-1])
    batch.finish()
    assert _stored_positions(pool) == {"main": batch.value[-1]}


def test_restart_resumes_from_stored_positions(pool):
    gen = _create(pool)
    for _ in range(3):
        held = _Held(gen.get_next())
        _persist(pool, gen, held.value)
        held.finish()
    crashed = _Held(gen.get_next())  # allocated, never written: the process dies

    restarted = _create(pool)
    # Everything allocated before the restart is persisted or lost for good.
    assert restarted.get_current_token() == crashed.value
    again = _Held(restarted.get_next())
    assert again.value == crashed.value + 1
    again.finish()
    assert _stored_positions(pool)["main"] == crashed.value


def test_two_writers_share_one_sequence_and_one_token(pool):
    writers = ["w1", "w2"]
    w1, w2 = _create(pool, "w1", writers), _create(pool, "w2", writers)
    reader = _create(pool, "reader", writers)
    assert not reader.is_writer

    a = _Held(w1.get_next())
    b = _Held(w2.get_next())
    assert a.value < b.value  # one sequence: ids never collide
    _persist(pool, w2, b.value)
    b.finish()
    for gen in (w1, reader):
        gen.advance("w2", w2.get_current_token_for_writer("w2"))

    # w2 is done with b, but w1's a (lower) is still in flight.
    assert w2.get_current_token_for_writer("w2") == b.value
    assert w1.get_current_token_for_writer("w1") == a.value - 1
    assert reader.get_current_token() == a.value - 1
    assert w1.get_current_token() == a.value - 1

    _persist(pool, w1, a.value)
    a.finish()
    # Idle now, w1 moves up to the highest known position: its next id will
    # come from the sequence, above b.
    assert w1.get_current_token_for_writer("w1") == b.value
    assert w1.get_current_token() == b.value
    reader.advance("w1", w1.get_current_token_for_writer("w1"))
    assert reader.get_current_token() == b.value
    assert reader.get_positions() == {"w1": b.value, "w2": b.value}

    # w2 learns of w1 too; positions never go backwards.
    w2.advance("w1", b.value)
    w2.advance("w1", 1)
    assert w2.get_current_token() == b.value


def test_advance_ignores_self_and_unknown_instances(pool):
    gen = _create(pool, "w1", ["w1", "w2"])
    gen.advance("stranger", 100)
    gen.advance("w1", 100)
    assert gen.get_positions() == {"w1": 0, "w2": 0}
    with pytest.raises(KeyError):
        gen.get_current_token_for_writer("stranger")


def test_idle_writer_does_not_jump_past_an_allocation_in_progress(pool):
    gen = _create(pool, "w1", ["w1", "w2"])

    async def allocate_while_other_writer_advances() -> tuple[int, int]:
        allocation = gen.get_next()
        pending = defer.ensureDeferred(allocation.__aenter__())  # fetching an id from the database
        gen.advance("w2", 50)
        stream_id = await pending
        position = gen.get_current_token_for_writer("w1")
        await allocation.__aexit__(None, None, None)
        return stream_id, position

    # The id fetched (1) may be below what w2 reported; w1 must not have
    # claimed a position past it while the fetch was in flight.
    stream_id, position = run(allocate_while_other_writer_advances())
    assert position == stream_id - 1
    assert gen.get_current_token_for_writer("w1") == 50


def test_reader_only_generator_cannot_allocate(pool):
    reader = _create(pool, "reader", ["w1"])
    with pytest.raises(RuntimeError):
        _Held(reader.get_next())


def test_writers_in_two_processes(test_database):
    """Two pools on one database stand for two processes, each a writer."""
    run(prepare_database(test_database.open()))
    writers = ["w1", "w2"]
    process_1, process_2 = test_database.open(), test_database.open()
    w1 = run(StreamIdGenerator.create(process_1, "things", "w1", writers))
    w2 = run(StreamIdGenerator.create(process_2, "things", "w2", writers))

    async def write(gen: StreamIdGenerator, pool: DatabasePool) -> int:
        async with gen.get_next() as stream_id:
            await pool.runInteraction("persist", gen.record_position_txn, stream_id)
        return stream_id

    async def write_concurrently() -> list[int]:
        return await defer.gatherResults(
            [defer.ensureDeferred(write(gen, pool)) for _ in range(10) for gen, pool in ((w1, process_1), (w2, process_2))],
            consumeErrors=True,
        )

    ids = run(write_concurrently())
    assert sorted(ids) == list(range(1, 21))  # unique across both processes, no gaps
    # Exchanging positions (what replication does) brings both to the top.
    for _ in range(2):
        w1.advance("w2", w2.get_current_token_for_writer("w2"))
        w2.advance("w1", w1.get_current_token_for_writer("w1"))
    assert w1.get_current_token() == w2.get_current_token() == 20

    # Stored positions are conservative while writes overlap; a write with
    # nothing else in flight stores exactly its id.
    assert _stored_positions(process_1)["w2"] <= 20
    assert run(write(w2, process_2)) == 21
    assert _stored_positions(process_1)["w2"] == 21

    # A process starting now resumes from the stored positions and allocates
    # above everything already handed out.
    restarted = run(StreamIdGenerator.create(test_database.open(), "things", "w1", writers))
    assert restarted.get_positions() == {"w1": 21, "w2": 21}
    assert restarted.get_current_token() == 21
    assert _Held(restarted.get_next()).value == 22


def test_random_interleavings_never_expose_an_unfinished_id(pool):
    """Two writers and a reader under a random mix of allocations, out-of-order
    finishes and replication messages: no token ever reaches an unfinished id,
    and no token goes backwards."""
    rng = random.Random(1234)
    writers = ["w1", "w2"]
    gens = {name: _create(pool, name, writers) for name in writers}
    reader = _create(pool, "reader", writers)
    everyone = [*gens.values(), reader]
    held: list[tuple[str, _Held]] = []
    last_tokens = {id(g): g.get_current_token() for g in everyone}

    for _ in range(150):
        action = rng.random()
        if action < 0.4 or not held:
            name = rng.choice(writers)
            held.append((name, _Held(gens[name].get_next())))
        elif action < 0.8:
            name, allocation = held.pop(rng.randrange(len(held)))
            _persist(pool, gens[name], allocation.value)
            allocation.finish()
        else:
            source = gens[rng.choice(writers)]
            for target in everyone:
                target.advance(source.instance_name, source.get_current_token_for_writer(source.instance_name))

        lowest_unfinished = min((allocation.value for _, allocation in held), default=None)
        for gen in everyone:
            token = gen.get_current_token()
            assert token >= last_tokens[id(gen)]
            if lowest_unfinished is not None:
                assert token < lowest_unfinished
            last_tokens[id(gen)] = token

    for name, allocation in held:
        _persist(pool, gens[name], allocation.value)
        allocation.finish()
    for _ in range(2):
        for source in gens.values():
            for target in everyone:
                target.advance(source.instance_name, source.get_current_token_for_writer(source.instance_name))
    top = max(row[0] for row in run(pool.execute("max", "SELECT MAX(stream_id) FROM stream_rows")))
    assert {g.get_current_token() for g in everyone} == {top}


class _ReorderedFetches:
    """A pool whose id fetches run at once in the database but return to the
    caller only when released: how two concurrent fetches on database
    threads can come back in another order than the sequence gave out ids."""

    def __init__(self, pool: DatabasePool) -> None:
        self._pool = pool
        self.held: list[tuple[list[int], defer.Deferred]] = []

    def __getattr__(self, name: str):
        return getattr(self._pool, name)

    async def runInteraction(self, desc: str, fn, *args):
        result = await self._pool.runInteraction(desc, fn, *args)
        if desc == "stream_id_allocate":
            release: defer.Deferred = defer.Deferred()
            self.held.append((result, release))
            await release
        return result


def test_position_stays_below_an_id_whose_fetch_returns_late(pool):
    fetches = _ReorderedFetches(pool)
    gen = run(StreamIdGenerator.create(fetches, "things", "w1", ["w1"]))

    async def scenario() -> list[int]:
        first, second = gen.get_next(), gen.get_next()
        first_entered = defer.ensureDeferred(first.__aenter__())
        while not fetches.held:  # the first fetch has taken its id from the sequence
            await deferLater(reactor, 0.01)
        second_entered = defer.ensureDeferred(second.__aenter__())
        while len(fetches.held) < 2:
            await deferLater(reactor, 0.01)
        (first_ids, release_first), (second_ids, release_second) = fetches.held
        assert first_ids[0] < second_ids[0]
        release_second.callback(None)  # the later id comes back first, and is written
        await second_entered
        await second.__aexit__(None, None, None)
        seen = [gen.get_current_token()]
        release_first.callback(None)
        await first_entered
        seen.append(gen.get_current_token())
        await first.__aexit__(None, None, None)
        seen.append(gen.get_current_token())
        return [first_ids[0], second_ids[0], *seen]

    first_id, second_id, while_fetching, while_writing, done = run(scenario())
    assert while_fetching < first_id, "the token passed an id whose fetch had not returned"
    assert while_writing == first_id - 1
    assert done == second_id
