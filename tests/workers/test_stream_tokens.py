"""A reader's token with two event persisters committing out of order:
it never passes an event a slower persister has not committed, and never
skips one once committed."""

from synapse.storage.database import DatabasePool
from synapse.storage.id_generators import StreamIdGenerator
from synapse.streams.tokens import StreamToken
from tests.support.twisted import run

WRITERS = ["persister1", "persister2"]


def _generators(db_pool: DatabasePool) -> tuple[StreamIdGenerator, StreamIdGenerator, StreamIdGenerator]:
    return tuple(  # type: ignore[return-value]
        run(StreamIdGenerator.create(db_pool, "events", name, WRITERS)) for name in (*WRITERS, "main")
    )


def _publish(writer: StreamIdGenerator, *readers: StreamIdGenerator) -> None:
    """What replication does with a writer's position."""
    position = writer.get_current_token_for_writer(writer.instance_name)
    for reader in readers:
        reader.advance(writer.instance_name, position)


def test_token_waits_for_the_slower_persister_then_covers_both(db_pool: DatabasePool) -> None:
    p1, p2, main = _generators(db_pool)

    async def scenario() -> list[tuple[str, int]]:
        seen: list[tuple[str, int]] = []
        slow = p1.get_next()
        first = await slow.__aenter__()  # persister1 allocated, still writing
        async with p2.get_next() as second:  # persister2 allocates after it...
            pass  # ...and commits first
        assert second > first
        _publish(p2, main, p1)
        _publish(p1, main, p2)
        seen.append(("p2 committed", main.get_current_token()))
        await slow.__aexit__(None, None, None)
        _publish(p1, main, p2)
        _publish(p2, main, p1)
        seen.append(("both committed", main.get_current_token()))
        return [*seen, ("first", first), ("second", second)]

    result = dict(run(scenario()))
    assert result["p2 committed"] < result["first"]
    assert result["both committed"] >= result["second"]


def test_token_of_a_reader_built_while_a_write_is_in_flight(db_pool: DatabasePool) -> None:
    """A worker starting up reads stored positions: never beyond an
    allocation that has not committed yet."""
    p1, p2, _ = _generators(db_pool)

    async def scenario() -> tuple[int, int, int]:
        slow = p1.get_next()
        first = await slow.__aenter__()
        async with p2.get_next() as second:
            await db_pool.runInteraction("persist", p2.record_position_txn, second)
        late_reader = await StreamIdGenerator.create(db_pool, "events", "worker1", WRITERS)
        token = late_reader.get_current_token()
        await slow.__aexit__(None, None, None)
        return first, second, token

    first, second, token = run(scenario())
    assert second > first
    assert token < first


def test_sync_tokens_hold_client_streams_only() -> None:
    """The `caches` instance stream never appears in client tokens."""
    token = StreamToken({"events": 42, "account_data": 3, "caches": 7})
    assert token.to_string() == "s42_3_0_0_0_0_0_0"  # every stream but events and account_data at 0
    assert StreamToken.from_string("s42").get("events") == 42
    assert StreamToken.from_string("s42").get("account_data") == 0
