"""The replication bus: who publishes stream positions, and who hears them.

A writer publishes `(stream, its instance, position)` after committing; every
process's subscribers for that stream are called with `(instance,
position)`, including those of the publishing process itself, so a
subscriber (a cache, the federation sender, ...) runs the same way whether
the write happened here or elsewhere, in a monolith or with workers.

Subscriptions are explicit (`bus.subscribe(stream, callback)`). Callbacks
for one stream run one at a time in arrival order (an async callback is
awaited before the next message of that stream); different streams do not
wait for each other. A failing callback is logged and does not stop others.

`InProcessBus` is the monolith's bus: publishing just calls the local
subscribers. `synapse.replication.redis.RedisReplicationBus` also carries
positions between processes.
"""

import abc
import inspect
import logging
from collections import deque
from collections.abc import Awaitable, Callable

import attrs
from twisted.internet import defer

logger = logging.getLogger(__name__)

# (writer instance, position) -> None, or an awaitable to wait for
PositionCallback = Callable[[str, int], None | Awaitable[None]]


@attrs.frozen
class BusState:
    """What health checks and metrics report about a bus."""

    # "connecting", "connected", "reconnecting" or "stopped"
    state: str
    # clock time of the last message received from the bus, if any
    last_message_at: float | None
    # successful reconnections after the first connection
    reconnects: int
    # instance name -> clock time its last message arrived
    instances_seen: dict[str, float] = attrs.Factory(dict)

    @property
    def connected(self) -> bool:
        return self.state == "connected"


class ReplicationBus(abc.ABC):
    """Carries stream positions to subscribers; see the module docstring."""

    def __init__(self, instance_name: str) -> None:
        self.instance_name = instance_name
        self._subscribers: dict[str, list[PositionCallback]] = {}
        self._replicate_callbacks: list[Callable[[], None]] = []
        self._queues: dict[str, deque[tuple[str, int]]] = {}
        self._draining: set[str] = set()

    def subscribe(self, stream: str, callback: PositionCallback) -> None:
        """Calls `callback(instance, position)` for every position published on `stream`."""
        self._subscribers.setdefault(stream, []).append(callback)

    def on_replicate(self, callback: Callable[[], None]) -> None:
        """Calls `callback()` whenever another process (or a reconnect of this
        one) needs this process's current writer positions published again."""
        self._replicate_callbacks.append(callback)

    @abc.abstractmethod
    def publish(self, stream: str, position: int) -> None:
        """Announces that this instance has persisted everything it
        allocated on `stream` up to `position`. Never blocks or raises: a
        position that cannot be sent now is re-sent on the next REPLICATE."""

    @abc.abstractmethod
    def state(self) -> BusState: ...

    def start(self) -> None:
        """Begins delivering messages (connecting, for a networked bus)."""

    async def stop(self) -> None:
        """Stops delivering messages and closes any connection."""

    async def wait_until_connected(self, timeout: float) -> None:
        """Returns once messages flow (at once for a bus that needs no
        connection); raises twisted's defer.TimeoutError after `timeout` s."""

    # -- for implementations -------------------------------------------------

    def _deliver(self, stream: str, instance: str, position: int) -> None:
        """Queues a position for the stream's subscribers and runs them."""
        if not self._subscribers.get(stream):
            return
        self._queues.setdefault(stream, deque()).append((instance, position))
        if stream not in self._draining:
            defer.ensureDeferred(self._drain(stream))

    def _replicate_requested(self) -> None:
        for callback in list(self._replicate_callbacks):
            try:
                callback()
            except Exception:
                logger.exception("Replicate callback %r failed", callback)

    async def _drain(self, stream: str) -> None:
        self._draining.add(stream)
        queue = self._queues[stream]
        try:
            while queue:
                instance, position = queue.popleft()
                for callback in list(self._subscribers.get(stream, ())):
                    try:
                        result = callback(instance, position)
                        if inspect.isawaitable(result):
                            await result
                    except Exception:
                        logger.exception(
                            "Subscriber %r of stream %s failed on %s@%d", callback, stream, instance, position
                        )
        finally:
            self._draining.discard(stream)


class InProcessBus(ReplicationBus):
    """The monolith's bus: publishing calls this process's subscribers."""

    def publish(self, stream: str, position: int) -> None:
        self._deliver(stream, self.instance_name, position)

    def state(self) -> BusState:
        return BusState(state="connected", last_message_at=None, reconnects=0)
