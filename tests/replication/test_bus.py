"""The bus contract, on the in-process bus, and the wire format."""

import pytest
from twisted.internet import defer, reactor

from synapse.replication.bus import InProcessBus
from synapse.replication.commands import (
    CommandParseError,
    PingCommand,
    PositionCommand,
    ReplicateCommand,
    decode_command,
    encode_command,
)
from synapse.util.clock import Clock
from tests.replication.util import Recorder
from tests.support.twisted import run


def test_in_process_bus_delivers_to_local_subscribers_of_that_stream():
    bus = InProcessBus("main")
    events, receipts = Recorder(), Recorder()
    bus.subscribe("events", events)
    bus.subscribe("receipts", receipts)
    run(bus.wait_until_connected(0.1))
    run(lambda: bus.publish("events", 3))
    assert events.heard == [("main", 3)]
    assert receipts.heard == []
    assert bus.state().connected


def test_async_subscribers_of_one_stream_run_in_order_one_at_a_time():
    bus = InProcessBus("main")
    clock = Clock(reactor)  # type: ignore[arg-type]
    log: list[str] = []
    done: defer.Deferred[None] = defer.Deferred()

    async def slow(instance: str, position: int) -> None:
        log.append(f"slow start {position}")
        await clock.sleep(0.05)
        log.append(f"slow end {position}")

    def fast(instance: str, position: int) -> None:
        log.append(f"fast {position}")
        if position == 2:
            done.callback(None)

    def other_stream(instance: str, position: int) -> None:
        log.append(f"other {position}")

    bus.subscribe("events", slow)
    bus.subscribe("events", fast)
    bus.subscribe("receipts", other_stream)

    async def scenario() -> None:
        bus.publish("events", 1)
        bus.publish("events", 2)
        bus.publish("receipts", 9)  # not held up by the slow events subscriber
        await done

    run(scenario())
    assert log == ["slow start 1", "other 9", "slow end 1", "fast 1", "slow start 2", "slow end 2", "fast 2"]


def test_a_failing_subscriber_does_not_stop_the_others():
    bus = InProcessBus("main")
    heard = Recorder()

    def broken(instance: str, position: int) -> None:
        raise RuntimeError("boom")

    bus.subscribe("events", broken)
    bus.subscribe("events", heard)
    run(lambda: bus.publish("events", 1))
    run(lambda: bus.publish("events", 2))
    assert heard.heard == [("main", 1), ("main", 2)]


@pytest.mark.parametrize(
    "command",
    [PositionCommand("w1", "events", 12), ReplicateCommand("w1"), PingCommand("main")],
)
def test_commands_round_trip(command):
    assert decode_command(encode_command(command)) == command


def test_position_wire_format():
    assert encode_command(PositionCommand("w1", "events", 12)) == (
        '{"cmd":"POSITION","instance":"w1","stream":"events","position":12}'
    )


@pytest.mark.parametrize(
    "message",
    [
        "nope",
        "[]",
        '{"cmd":"POSITION","instance":"w1","stream":"events"}',
        '{"cmd":"POSITION","instance":"w1","stream":"events","position":true}',
        '{"cmd":"POSITION","instance":"w1","stream":"events","position":-3}',
        '{"cmd":"POSITION","instance":"","stream":"events","position":3}',
        '{"cmd":"REPLICATE"}',
        '{"cmd":"RDATA","instance":"w1"}',
    ],
)
def test_malformed_commands_are_rejected(message):
    with pytest.raises(CommandParseError):
        decode_command(message)
