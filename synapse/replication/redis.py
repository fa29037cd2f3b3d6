"""The replication bus over Redis pub/sub, shared by all processes of a server.

Every process subscribes to one channel, "<server_name>/replication", and
publishes commands (synapse.replication.commands) on it. Each process holds
two txredisapi connections, because a subscribed Redis connection can do
nothing but listen: one subscriber, one publisher.

The connection is ours to keep alive, not txredisapi's (its own reconnect is
switched off) so that every new connection goes through the same steps:
connect both, subscribe, then send REPLICATE and re-publish this process's
own positions. Everyone answers REPLICATE with their positions, so positions
published while a process was disconnected (and dropped, see
`ReplicationBus.publish`) reach it anyway. Failed attempts back off
exponentially up to `max_backoff` seconds.

Heartbeat: every `heartbeat_interval` seconds the process publishes a PING
and expects to receive it back on its subscriber within
`heartbeat_timeout`. That proves both connections and the server work; a
missing echo (a hung server, a half-open TCP connection) tears the session
down and reconnects.

txredisapi schedules some of its work on the global reactor, so this bus
runs on the global reactor.
"""

import logging
from collections.abc import Callable
from typing import Any, TypeVar

import txredisapi
from twisted.internet import defer
from twisted.internet.endpoints import HostnameEndpoint, UNIXClientEndpoint
from twisted.internet.interfaces import IDelayedCall, IStreamClientEndpoint
from twisted.internet.task import LoopingCall
from twisted.python.failure import Failure

from synapse.config.redis import RedisConfig
from synapse.replication.bus import BusState, ReplicationBus
from synapse.replication.commands import (
    Command,
    CommandParseError,
    PingCommand,
    PositionCommand,
    ReplicateCommand,
    decode_command,
    encode_command,
)
from synapse.util.clock import Clock

logger = logging.getLogger(__name__)

T = TypeVar("T")


def replication_channel(server_name: str) -> str:
    return f"{server_name}/replication"


class RedisReplicationBus(ReplicationBus):
    """See the module docstring. `start()` connects in the background;
    `wait_until_connected()` lets startup (and tests) wait for it."""

    def __init__(
        self,
        reactor: Any,
        server_name: str,
        instance_name: str,
        config: RedisConfig,
        *,
        heartbeat_interval: float = 5.0,
        heartbeat_timeout: float = 10.0,
        connect_timeout: float = 10.0,
        initial_backoff: float = 0.2,
        max_backoff: float = 5.0,
    ) -> None:
        super().__init__(instance_name)
        self._reactor = reactor
        self._clock = Clock(reactor)
        self._config = config
        self.channel = replication_channel(server_name)
        self.heartbeat_interval = heartbeat_interval
        self.heartbeat_timeout = heartbeat_timeout
        self.connect_timeout = connect_timeout
        self._initial_backoff = initial_backoff
        self._max_backoff = max_backoff

        self._state = "stopped"
        self._session: _Session | None = None
        self._opening: _Session | None = None
        self._loop: defer.Deferred[None] | None = None
        self._pause: defer.Deferred[None] | None = None
        self._stopping = False
        self._connected_once = False
        self._reconnects = 0
        self._last_message_at: float | None = None
        self._instances_seen: dict[str, float] = {}
        self._connected_waiters: list[defer.Deferred[None]] = []

    # -- ReplicationBus ------------------------------------------------------

    def publish(self, stream: str, position: int) -> None:
        self._deliver(stream, self.instance_name, position)
        if self._session is None:
            logger.debug("Redis not connected: %s@%d goes out on reconnect", stream, position)
            return
        self._session.send(PositionCommand(self.instance_name, stream, position))

    def state(self) -> BusState:
        return BusState(
            state=self._state,
            last_message_at=self._last_message_at,
            reconnects=self._reconnects,
            instances_seen=dict(self._instances_seen),
        )

    def start(self) -> None:
        if self._loop is not None:
            return
        self._stopping = False
        self._state = "connecting"
        self._loop = defer.ensureDeferred(self._run())
        self._loop.addErrback(lambda f: logger.error("Redis bus loop failed: %s", f.getTraceback()))

    async def stop(self) -> None:
        self._stopping = True
        for session in (self._session, self._opening):
            if session is not None:
                session.close("stopping")
        if self._pause is not None and not self._pause.called:
            self._pause.cancel()
        if self._loop is not None:
            await self._loop
            self._loop = None
        self._state = "stopped"

    async def wait_until_connected(self, timeout: float) -> None:
        """Returns once connected; raises defer.TimeoutError after `timeout` s."""
        if self._state == "connected":
            return
        d: defer.Deferred[None] = defer.Deferred()
        self._connected_waiters.append(d)
        d.addTimeout(timeout, self._reactor)
        try:
            await d
        finally:
            if d in self._connected_waiters:
                self._connected_waiters.remove(d)

    # -- connection loop -----------------------------------------------------

    async def _run(self) -> None:
        failures = 0
        while not self._stopping:
            session = _Session(self)
            self._opening = session
            try:
                await session.open()
            except Exception as e:  # noqa: BLE001 - any failure to connect means: back off and retry
                session.close(f"connect failed: {e}")
                if self._stopping:
                    break
                delay = min(self._max_backoff, self._initial_backoff * 2**failures)
                failures += 1
                logger.warning("Cannot connect to Redis (%s); retrying in %.1fs", e, delay)
                await self._sleep(delay)
                continue
            finally:
                self._opening = None
            failures = 0
            self._on_connected(session)
            reason = await session.closed
            self._session = None
            if not self._stopping:
                logger.warning("Lost the Redis connection (%s); reconnecting", reason)
                self._state = "reconnecting"
        self._state = "stopped"

    def _on_connected(self, session: "_Session") -> None:
        if self._connected_once:
            self._reconnects += 1
        self._connected_once = True
        self._session = session
        self._state = "connected"
        logger.info("Replication bus connected to Redis, channel %s", self.channel)
        # Ask everyone for their positions, and repeat ours, which may have
        # moved while we were away.
        session.send(ReplicateCommand(self.instance_name))
        self._replicate_requested()
        waiters, self._connected_waiters = self._connected_waiters, []
        for d in waiters:
            d.callback(None)

    async def _sleep(self, seconds: float) -> None:
        """Sleeps, unless `stop()` cancels the pause."""
        pause: defer.Deferred[None] = defer.Deferred()
        call = self._clock.call_later(seconds, pause.callback, None)
        self._pause = pause
        try:
            await pause
        except defer.CancelledError:
            call.cancel()
        finally:
            self._pause = None

    # -- incoming ------------------------------------------------------------

    def _on_message(self, session: "_Session", message: Any) -> None:
        now = self._clock.time()
        self._last_message_at = now
        try:
            command = decode_command(message)
        except CommandParseError as e:
            logger.warning("Ignoring bad replication message %r: %s", message, e)
            return
        self._instances_seen[command.instance] = now
        own = command.instance == self.instance_name
        if isinstance(command, PingCommand):
            if own:
                session.heartbeat_answered()
        elif isinstance(command, ReplicateCommand):
            if not own:
                self._replicate_requested()
        elif not own:
            self._deliver(command.stream, command.instance, command.position)


class _BusSubscriberProtocol(txredisapi.SubscriberProtocol):
    def messageReceived(self, pattern: Any, channel: Any, message: Any) -> None:
        self.factory.on_message(message)


class _SubscriberFactory(txredisapi.RedisFactory):
    protocol = _BusSubscriberProtocol

    def __init__(self, on_message: Callable[[Any], None], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.on_message = on_message


class _Session:
    """One pair of connections; `closed` fires (with a reason) when either
    is lost, the heartbeat fails or `close` is called. Never reused."""

    def __init__(self, bus: RedisReplicationBus) -> None:
        self._bus = bus
        self.closed: defer.Deferred[str] = defer.Deferred()
        self._factories: list[txredisapi.RedisFactory] = []
        self._publisher: Any = None
        self._step: defer.Deferred[Any] | None = None
        self._heartbeat: LoopingCall | None = None
        self._ping_deadline: IDelayedCall | None = None

    async def open(self) -> None:
        bus, config = self._bus, self._bus._config
        options = {
            "uuid": config.path or f"{config.host}:{config.port}",
            "dbid": config.dbid,
            "poolsize": 1,
            "password": config.password,
            "convertNumbers": False,
        }
        subscriber = _SubscriberFactory(lambda message: bus._on_message(self, message), **options)
        # a stuck PUBLISH aborts its connection, which ends the session
        publisher = txredisapi.RedisFactory(replyTimeout=bus.heartbeat_timeout, **options)
        for factory in (subscriber, publisher):
            factory.reconnect = False
            self._factories.append(factory)
        # gathered at once, so a failure of either is consumed, not left unhandled
        ready = defer.gatherResults([subscriber.deferred, publisher.deferred], consumeErrors=True)
        for factory in (subscriber, publisher):
            factory.startConnecting(_endpoint(bus._reactor, config, bus.connect_timeout))
        sub_handler, self._publisher = await self._until_closed(ready)
        await self._until_closed(sub_handler.subscribe(bus.channel))
        for factory in self._factories:
            if not factory.pool:
                raise txredisapi.ConnectionError("connection lost while connecting")
            factory.pool[0].whenDisconnected().addCallback(lambda _: self.close("connection lost"))
        self._heartbeat = LoopingCall(self._beat)
        self._heartbeat.clock = bus._reactor
        self._heartbeat.start(bus.heartbeat_interval, now=True)

    async def _until_closed(self, d: "defer.Deferred[T]") -> T:
        """Awaits `d`, but fails at once if the session closes, and after
        the connect timeout."""
        if self.closed.called:
            raise txredisapi.ConnectionError("session closed")
        step: defer.Deferred[T] = defer.Deferred()

        def _succeeded(result: T) -> None:
            if not step.called:
                step.callback(result)

        def _failed(failure: Failure) -> None:
            if failure.check(defer.FirstError):
                failure = failure.value.subFailure
            if not step.called:
                step.errback(failure)

        d.addCallbacks(_succeeded, _failed)
        step.addTimeout(self._bus.connect_timeout, self._bus._reactor)
        self._step = step
        try:
            return await step
        finally:
            self._step = None

    def send(self, command: Command) -> None:
        if self.closed.called or self._publisher is None:
            return
        d = self._publisher.publish(self._bus.channel, encode_command(command))
        d.addErrback(lambda f: self.close(f"publish failed: {f.getErrorMessage()}"))

    def _beat(self) -> None:
        if self._ping_deadline is not None:
            return  # still waiting for the previous echo
        self._ping_deadline = self._bus._clock.call_later(self._bus.heartbeat_timeout, self._heartbeat_missed)
        self.send(PingCommand(self._bus.instance_name))

    def heartbeat_answered(self) -> None:
        if self._ping_deadline is not None:
            if self._ping_deadline.active():
                self._ping_deadline.cancel()
            self._ping_deadline = None

    def _heartbeat_missed(self) -> None:
        self._ping_deadline = None
        self.close(f"no heartbeat echo within {self._bus.heartbeat_timeout}s")

    def close(self, reason: str) -> None:
        if self.closed.called:
            return
        if self._heartbeat is not None and self._heartbeat.running:
            self._heartbeat.stop()
        self.heartbeat_answered()
        for factory in self._factories:
            for conn in list(factory.pool):
                conn.transport.abortConnection()
            factory.disconnect().addErrback(lambda f: logger.debug("Redis disconnect: %s", f.getErrorMessage()))
        if self._step is not None and not self._step.called:
            self._step.errback(txredisapi.ConnectionError(reason))
        self.closed.callback(reason)


def _endpoint(reactor: Any, config: RedisConfig, timeout: float) -> IStreamClientEndpoint:
    if config.path:
        return UNIXClientEndpoint(reactor, config.path, timeout=timeout)
    endpoint: IStreamClientEndpoint = HostnameEndpoint(reactor, config.host, config.port, timeout=timeout)
    if config.use_tls:
        from twisted.internet.endpoints import wrapClientTLS
        from twisted.internet.ssl import optionsForClientTLS

        endpoint = wrapClientTLS(optionsForClientTLS(config.host), endpoint)
    return endpoint
