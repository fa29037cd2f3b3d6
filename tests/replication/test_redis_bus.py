"""The Redis bus against a real redis-server: two buses in one test stand
for two processes with distinct instance names."""

import attrs
import pytest
from twisted.internet import reactor

from synapse.config.redis import RedisConfig
from synapse.replication.commands import PositionCommand, encode_command
from synapse.replication.redis import RedisReplicationBus
from tests.replication.private_redis import PrivateRedis
from tests.replication.util import (
    Recorder,
    eventually,
    make_bus,
    redis_config,
    unique_server_name,
)
from tests.support.redis import ensure_redis
from tests.support.twisted import run


@pytest.fixture
def shared_redis():
    return ensure_redis()


@pytest.fixture
def private_redis():
    server = PrivateRedis()
    server.start()
    try:
        yield server
    finally:
        server.cleanup()


def _stop(*buses: RedisReplicationBus) -> None:
    for bus in buses:
        run(bus.stop())


def test_two_buses_exchange_positions(shared_redis):
    name = unique_server_name()
    writer = make_bus(name, "w1", shared_redis.host, shared_redis.port)
    reader = make_bus(name, "reader", shared_redis.host, shared_redis.port)
    at_writer, at_reader = Recorder(), Recorder()
    writer.subscribe("events", at_writer)
    reader.subscribe("events", at_reader)

    async def scenario() -> None:
        writer.start()
        reader.start()
        await writer.wait_until_connected(10)
        await reader.wait_until_connected(10)
        writer.publish("events", 5)
        writer.publish("events", 6)
        await eventually(lambda: at_reader.latest("w1") == 6, what="reader to hear w1@6")

    try:
        run(scenario())
        assert at_reader.heard == [("w1", 5), ("w1", 6)]
        # the writer's own subscribers hear its writes directly, once
        assert at_writer.heard == [("w1", 5), ("w1", 6)]
        assert reader.state().connected and writer.state().connected
        assert "w1" in reader.state().instances_seen
    finally:
        _stop(writer, reader)
    assert writer.state().state == "stopped"


def test_channel_is_per_server_name(shared_redis):
    writer = make_bus(unique_server_name(), "w1", shared_redis.host, shared_redis.port)
    other = make_bus(unique_server_name(), "reader", shared_redis.host, shared_redis.port)
    heard = Recorder()
    other.subscribe("events", heard)
    same_server = make_bus(writer.channel.split("/")[0], "reader2", shared_redis.host, shared_redis.port)
    heard_same = Recorder()
    same_server.subscribe("events", heard_same)

    async def scenario() -> None:
        for bus in (writer, other, same_server):
            bus.start()
            await bus.wait_until_connected(10)
        writer.publish("events", 3)
        await eventually(lambda: heard_same.latest("w1") == 3)

    try:
        run(scenario())
        assert heard.heard == []
    finally:
        _stop(writer, other, same_server)


def test_replicate_on_connect_catches_up_a_late_reader(shared_redis):
    name = unique_server_name()
    writer = make_bus(name, "w1", shared_redis.host, shared_redis.port)
    writer.on_replicate(lambda: writer.publish("events", 42))
    reader = make_bus(name, "reader", shared_redis.host, shared_redis.port)
    at_reader = Recorder()
    reader.subscribe("events", at_reader)

    async def scenario() -> None:
        writer.start()
        await writer.wait_until_connected(10)
        # published before the reader exists: it cannot hear this one
        writer.publish("events", 41)
        reader.start()
        await reader.wait_until_connected(10)
        await eventually(lambda: at_reader.latest("w1") == 42, what="REPLICATE answer")

    try:
        run(scenario())
        assert ("w1", 41) not in at_reader.heard
    finally:
        _stop(writer, reader)


def test_malformed_messages_are_ignored(shared_redis):
    import txredisapi

    name = unique_server_name()
    reader = make_bus(name, "reader", shared_redis.host, shared_redis.port)
    heard = Recorder()
    reader.subscribe("events", heard)

    async def scenario() -> None:
        reader.start()
        await reader.wait_until_connected(10)
        conn = await txredisapi.Connection(shared_redis.host, shared_redis.port, reconnect=False)
        try:
            for junk in ("not json", "[1]", '{"cmd":"POSITION","instance":"w1","stream":"events","position":-1}',
                         '{"cmd":"NOPE","instance":"w1"}'):
                await conn.publish(reader.channel, junk)
            await conn.publish(reader.channel, encode_command(PositionCommand("w1", "events", 9)))
        finally:
            await conn.disconnect()
        await eventually(lambda: heard.heard)

    try:
        run(scenario())
        assert heard.heard == [("w1", 9)]
        assert reader.state().connected
    finally:
        _stop(reader)


def test_redis_restart_reconnects_resubscribes_and_catches_up(private_redis):
    name = unique_server_name()
    current = {"w1": 0}
    writer = make_bus(name, "w1", private_redis.host, private_redis.port, initial_backoff=0.05, max_backoff=0.5)
    writer.on_replicate(lambda: writer.publish("events", current["w1"]))
    reader = make_bus(name, "reader", private_redis.host, private_redis.port, initial_backoff=0.05, max_backoff=0.5)
    at_reader = Recorder()
    reader.subscribe("events", at_reader)

    def write(position: int) -> None:
        current["w1"] = position
        writer.publish("events", position)

    async def connected() -> None:
        writer.start()
        reader.start()
        await writer.wait_until_connected(10)
        await reader.wait_until_connected(10)
        write(1)
        await eventually(lambda: at_reader.latest("w1") == 1)

    async def outage() -> None:
        await eventually(lambda: not writer.state().connected and not reader.state().connected, what="loss")
        # written while Redis is down: the publishes are dropped
        write(2)
        write(3)

    async def recovered() -> None:
        await writer.wait_until_connected(10)
        await reader.wait_until_connected(10)
        await eventually(lambda: at_reader.latest("w1") == 3, what="catch-up after restart")
        write(4)
        await eventually(lambda: at_reader.latest("w1") == 4, what="live positions after restart")

    try:
        run(connected())
        private_redis.kill()
        run(outage())
        assert writer.state().state == "reconnecting"
        private_redis.start()
        run(recovered())
        assert writer.state().reconnects == 1 and reader.state().reconnects == 1
    finally:
        _stop(writer, reader)


def test_heartbeat_timeout_detects_a_hung_server(private_redis):
    name = unique_server_name()
    options = {"heartbeat_interval": 0.1, "heartbeat_timeout": 0.4, "connect_timeout": 0.5,
                   "initial_backoff": 0.05, "max_backoff": 0.3}
    writer = make_bus(name, "w1", private_redis.host, private_redis.port, **options)
    reader = make_bus(name, "reader", private_redis.host, private_redis.port, **options)
    at_reader = Recorder()
    reader.subscribe("events", at_reader)
    writer.on_replicate(lambda: writer.publish("events", 10))

    async def up() -> None:
        writer.start()
        reader.start()
        await writer.wait_until_connected(10)
        await reader.wait_until_connected(10)
        await eventually(lambda: at_reader.latest("w1") == 10)

    async def hung() -> None:
        # the TCP connections stay open: only the heartbeat can notice
        await eventually(lambda: not reader.state().connected, timeout=5, what="heartbeat timeout")

    try:
        run(up())
        private_redis.freeze()
        try:
            run(hung())
        finally:
            private_redis.thaw()
        run(reader.wait_until_connected(10))
        run(writer.wait_until_connected(10))
        assert reader.state().reconnects >= 1
        run(lambda: writer.publish("events", 11))
        run(eventually(lambda: at_reader.latest("w1") == 11))
    finally:
        _stop(writer, reader)


def test_backoff_while_redis_is_down_then_connects(private_redis):
    private_redis.kill()
    bus = make_bus(unique_server_name(), "w1", private_redis.host, private_redis.port,
                   initial_backoff=0.05, max_backoff=0.2)
    try:
        run(bus.start)
        run(eventually(lambda: True))
        assert bus.state().state == "connecting"
        private_redis.start()
        run(bus.wait_until_connected(10))
        assert bus.state().reconnects == 0
    finally:
        _stop(bus)


def test_unix_socket_password_and_dbid():
    server = PrivateRedis(password="hunter2")
    server.start()
    name = unique_server_name()
    config = RedisConfig(enabled=True, host="ignored", port=1, path=server.unix_socket, password="hunter2",
                         dbid=3, use_tls=False)
    writer = RedisReplicationBus(reactor, name, "w1", config)
    # the same server over TCP, database 0
    tcp = attrs.evolve(redis_config(server.host, server.port), password="hunter2")
    reader = RedisReplicationBus(reactor, name, "reader", tcp)
    heard = Recorder()
    reader.subscribe("events", heard)
    wrong = RedisReplicationBus(reactor, name, "w2", attrs.evolve(config, password="wrong"),
                                initial_backoff=0.05, max_backoff=0.1)

    async def scenario() -> None:
        for bus in (writer, reader, wrong):
            bus.start()
        await writer.wait_until_connected(10)
        await reader.wait_until_connected(10)
        writer.publish("events", 12)
        await eventually(lambda: heard.latest("w1") == 12)

    try:
        run(scenario())
        # a wrong password never connects; it keeps trying
        assert wrong.state().state == "connecting"
    finally:
        _stop(writer, reader, wrong)
        server.cleanup()
