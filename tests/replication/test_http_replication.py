"""Replication HTTP calls over real listening sockets (TCP and UNIX): the
secret, read-your-writes waiting, retries with idempotency, error proxying."""

import shutil
import socket
import tempfile
from collections.abc import Mapping
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from twisted.internet import reactor
from twisted.web.server import Request, Site

from synapse.api.errors import Codes, SynapseError
from synapse.config.workers import InstanceTcpLocation, InstanceUnixLocation
from synapse.http.server import JsonResource
from synapse.replication.http.client import ReplicationClient
from synapse.replication.http.endpoint import (
    ReplicationEndpoint,
    ReplicationServer,
    ResponseCache,
)
from synapse.replication.metrics import ReplicationMetrics
from synapse.replication.redis import RedisReplicationBus
from synapse.util.clock import Clock
from tests.replication.processes import LinkedBus, Process
from tests.replication.util import make_bus, unique_server_name
from tests.support.redis import ensure_redis
from tests.support.twisted import run


class Append(ReplicationEndpoint):
    """A write on the events stream of the serving process."""

    NAME = "test_append"
    PATH_ARGS = ("room_id",)

    def __init__(self, server: ReplicationServer, process: Process) -> None:
        super().__init__(server)
        self.process = process
        self.calls: list[tuple[str, Any]] = []

    async def handle(self, content: dict, room_id: str) -> tuple[int, dict, Mapping[str, int]]:
        self.calls.append((room_id, content))
        if content.get("refuse"):
            raise SynapseError(400, "refused", Codes.INVALID_PARAM, {"hint": "try again"})
        stream_id = await self.process.write(rooms=(room_id,))
        return 200, {"stream_id": stream_id, "room_id": room_id}, {"events": stream_id}


class _DroppingRequest(Request):
    """Drops the connection instead of answering while the site says so."""

    def write(self, data: bytes) -> None:
        if self.channel.site.drop_answers > 0:  # type: ignore[union-attr]
            self.channel.site.drop_answers -= 1  # type: ignore[union-attr]
            self.transport.abortConnection()  # type: ignore[union-attr]
            return
        super().write(data)


class _Site(Site):
    def __init__(self, resource: Any) -> None:
        super().__init__(resource, requestFactory=_DroppingRequest)
        self.drop_answers = 0
        self.requests = 0

    def getResourceFor(self, request: Request) -> Any:
        self.requests += 1
        return super().getResourceFor(request)


class Topology:
    """A writer process "w1" serving Append, and a calling process "reader"."""

    def __init__(self, db_pool: Any, secret: str | None = "s3cret", bus_delay: float | None = None,
                 buses: tuple[Any, Any] | None = None) -> None:
        if buses is None:
            network: list[LinkedBus] = []
            buses = (LinkedBus("w1", network, delay=bus_delay), LinkedBus("reader", network, delay=bus_delay))
        self.writer = Process(db_pool, "w1", ["w1"], buses[0])
        self.reader = Process(db_pool, "reader", ["w1"], buses[1])
        self.server = ReplicationServer("w1", secret, Clock(reactor))  # type: ignore[arg-type]
        self.endpoint = Append(self.server, self.writer)
        resource = JsonResource()
        self.endpoint.register(resource)
        self.site = _Site(resource)
        self.ports: list[Any] = []
        self.clients: list[ReplicationClient] = []
        self._dir = tempfile.mkdtemp(prefix="repl-")

    def listen_tcp_now(self, port: int) -> None:
        """On the reactor thread: start listening on a given port."""
        self.ports.append(reactor.listenTCP(port, self.site, interface="127.0.0.1"))  # type: ignore[attr-defined]

    def listen_tcp(self, port: int = 0) -> InstanceTcpLocation:
        listening = run(lambda: reactor.listenTCP(port, self.site, interface="127.0.0.1"))  # type: ignore[attr-defined]
        self.ports.append(listening)
        return InstanceTcpLocation("127.0.0.1", listening.getHost().port)

    def listen_unix(self) -> InstanceUnixLocation:
        path = f"{self._dir}/w1.sock"
        self.ports.append(run(lambda: reactor.listenUNIX(path, self.site)))  # type: ignore[attr-defined]
        return InstanceUnixLocation(path)

    def client(self, location: Any, secret: str | None = "s3cret", **kwargs: Any) -> ReplicationClient:
        kwargs.setdefault("initial_retry_delay", 0.05)
        client = ReplicationClient(reactor, {"w1": location}, secret, self.reader.positions, **kwargs)
        self.clients.append(client)
        return client

    def close(self) -> None:
        for client in self.clients:
            run(client.close())
        for port in self.ports:
            run(port.stopListening)
        shutil.rmtree(self._dir, ignore_errors=True)


@pytest.fixture
def topology(db_pool):
    made: list[Topology] = []

    def make(**kwargs: Any) -> Topology:
        made.append(Topology(db_pool, **kwargs))
        return made[-1]

    yield make
    for t in made:
        t.close()


def _call(client: ReplicationClient, payload: dict, room_id: str = "!room:hs") -> dict:
    return run(client.call(Append, "w1", payload, room_id=room_id))


@pytest.mark.parametrize("transport", ["tcp", "unix"])
def test_call_returns_after_the_written_position_arrived(topology, transport):
    t = topology(bus_delay=0.3)
    location = t.listen_tcp() if transport == "tcp" else t.listen_unix()
    client = t.client(location)
    clock = t.reader.clock

    async def call() -> tuple[dict, float, int]:
        began = clock.time()
        body = await client.call(Append, "w1", {"x": 1}, room_id="!a/b:hs")
        return body, clock.time() - began, t.reader.gen.get_current_token_for_writer("w1")

    body, took, seen = run(call())
    assert body == {"stream_id": body["stream_id"], "room_id": "!a/b:hs"}  # path args round-trip, positions stripped
    assert seen >= body["stream_id"]
    assert took >= 0.29  # the bus held the position back this long
    assert t.endpoint.calls == [("!a/b:hs", {"x": 1})]


def test_call_gives_up_waiting_after_the_wait_timeout(topology):
    t = topology(bus_delay=5.0)
    client = t.client(t.listen_tcp(), wait_timeout=0.2)
    clock = t.reader.clock

    async def call() -> tuple[dict, float]:
        began = clock.time()
        body = await client.call(Append, "w1", {}, room_id="!r:hs")
        return body, clock.time() - began

    body, took = run(call())
    assert 0.19 <= took < 3
    assert t.reader.gen.get_current_token_for_writer("w1") < body["stream_id"]


def test_read_your_writes_over_redis(db_pool):
    redis = ensure_redis()
    name = unique_server_name()
    buses: tuple[RedisReplicationBus, RedisReplicationBus] = (
        make_bus(name, "w1", redis.host, redis.port), make_bus(name, "reader", redis.host, redis.port)
    )
    t = Topology(db_pool, buses=buses)
    try:
        for bus in buses:
            run(bus.start)
            run(bus.wait_until_connected(10))
        client = t.client(t.listen_tcp())
        for _ in range(3):
            body = _call(client, {})
            assert t.reader.gen.get_current_token() >= body["stream_id"]
        registry = CollectorRegistry()
        ReplicationMetrics.install(buses[1], t.reader.positions, registry)
        text = generate_latest(registry).decode()
        assert "synapse_replication_bus_connected 1.0" in text
        assert "synapse_replication_bus_last_message_timestamp_seconds " in text
        assert 'synapse_replication_instance_last_seen_timestamp_seconds{instance="w1"}' in text
        assert f'synapse_replication_stream_position{{stream="events",writer="w1"}} {float(body["stream_id"])}' in text
    finally:
        t.close()
        for bus in buses:
            run(bus.stop())


@pytest.mark.parametrize(
    "client_secret, code, errcode",
    [(None, 401, Codes.MISSING_TOKEN), ("wrong", 403, Codes.FORBIDDEN)],
)
@pytest.mark.parametrize("transport", ["tcp", "unix"])
def test_secret_is_required_when_set(topology, client_secret, code, errcode, transport):
    t = topology(secret="s3cret")
    client = t.client(t.listen_tcp() if transport == "tcp" else t.listen_unix(), secret=client_secret)
    with pytest.raises(SynapseError) as e:
        _call(client, {})
    assert (e.value.code, e.value.errcode) == (code, errcode)
    assert t.endpoint.calls == []


def test_no_secret_configured_accepts_any_caller(topology):
    t = topology(secret=None)
    assert "stream_id" in _call(t.client(t.listen_tcp(), secret=None), {})
    assert "stream_id" in _call(t.client(t.listen_unix(), secret="anything"), {})


def test_retry_after_a_lost_answer_does_not_write_twice(topology):
    t = topology()
    client = t.client(t.listen_tcp())
    t.site.drop_answers = 1
    body = _call(client, {"n": 1})
    assert t.site.requests == 2  # the answer was lost once, so the call was sent again
    assert t.endpoint.calls == [("!room:hs", {"n": 1})]  # ... and handled once
    assert t.reader.gen.get_current_token() >= body["stream_id"]
    # a new call is a new transaction
    _call(client, {"n": 2})
    assert len(t.endpoint.calls) == 2


def test_retries_until_the_instance_listens(topology):
    t = topology()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = t.client(InstanceTcpLocation("127.0.0.1", port))
    run(lambda: reactor.callLater(0.3, t.listen_tcp_now, port))  # type: ignore[attr-defined]
    assert "stream_id" in _call(client, {})


def test_gives_up_after_max_attempts(topology):
    t = topology()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = t.client(InstanceTcpLocation("127.0.0.1", port), max_attempts=2)
    with pytest.raises(SynapseError) as e:
        _call(client, {})
    assert e.value.code == 502


def test_remote_errors_are_raised_with_their_code(topology):
    t = topology()
    client = t.client(t.listen_tcp())
    with pytest.raises(SynapseError) as e:
        _call(client, {"refuse": True})
    assert (e.value.code, e.value.errcode, e.value.msg) == (400, Codes.INVALID_PARAM, "refused")
    assert e.value.error_dict() == {"errcode": Codes.INVALID_PARAM, "error": "refused", "hint": "try again"}


def test_unknown_instance(topology):
    t = topology()
    client = t.client(t.listen_tcp())
    with pytest.raises(SynapseError):
        run(client.call(Append, "nobody", {}, room_id="!r:hs"))


def test_paths():
    assert Append.path("t1", room_id="!a/b:hs") == "/_synapse/replication/test_append/%21a%2Fb%3Ahs/t1"
    assert Append.pattern() == "^/_synapse/replication/test_append/(?P<room_id>[^/]+)/(?P<txn_id>[^/]+)$"
    with pytest.raises(TypeError):
        Append.path("t1")


def test_response_cache_replays_joins_and_forgets_failures():
    clock = Clock(reactor)  # type: ignore[arg-type]
    cache = ResponseCache(clock, ttl_s=0.2)
    runs: list[str] = []

    async def answer(tag: str) -> tuple[int, dict]:
        runs.append(tag)
        await clock.sleep(0.05)
        return 200, {"tag": tag}

    async def failing() -> tuple[int, dict]:
        runs.append("boom")
        raise RuntimeError("boom")

    async def scenario() -> list[Any]:
        from twisted.internet import defer

        first, joined = await defer.gatherResults(
            [defer.ensureDeferred(cache.wrap("k", lambda: answer("a"))),
             defer.ensureDeferred(cache.wrap("k", lambda: answer("b")))]
        )
        replayed = await cache.wrap("k", lambda: answer("c"))
        await clock.sleep(0.25)
        expired = await cache.wrap("k", lambda: answer("d"))
        try:
            await cache.wrap("f", failing)
        except RuntimeError:
            pass
        retried = await cache.wrap("f", lambda: answer("e"))
        return [first, joined, replayed, expired, retried]

    results = run(scenario())
    assert [r[1]["tag"] for r in results] == ["a", "a", "a", "d", "e"]
    assert runs == ["a", "d", "boom", "e"]
