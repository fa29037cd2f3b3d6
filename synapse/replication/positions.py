"""Stream positions between processes: publishing ours, applying theirs,
and waiting for a position ("read your own writes").

`ReplicationPositions` is the glue between the bus, the id generators and
the notifier, built once per process (monolith included):

- Local writes: a writer commits, its id generator's position moves, and it
  tells the notifier; our notifier listener then publishes this process's
  writer position of that stream on the bus, read from the id generator
  (not the position the writer passed: with lower ids still in flight, the
  writer's position is below its newest id and only it is safe to publish).
- Remote writes: a POSITION from another writer advances our id generator,
  then the stream's reader hook says which rooms and users the new range
  touched so the notifier wakes exactly those waiters (no hook: wake all).
  `advance` can move this process's own idle writer position too (another
  writer of a sharded stream moved on), which is published in turn.
- REPLICATE: every stream this process writes has its position re-published.
- `wait_for_position` returns once a writer's position has reached a given
  one, e.g. the position a replication HTTP call reported having written.
"""

import functools
import logging
from collections.abc import Awaitable, Callable, Collection, Mapping

import attrs
from twisted.internet import defer

from synapse.notifier import Notifier
from synapse.replication.bus import ReplicationBus
from synapse.storage.id_generators import StreamIdGenerator
from synapse.streams.registry import STREAMS
from synapse.util.clock import Clock

logger = logging.getLogger(__name__)

DEFAULT_WAIT_TIMEOUT_S = 30.0
# how often a waiter reads stored positions while the bus is down
STORED_POSITION_POLL_S = 0.25


@attrs.frozen
class StreamUpdates:
    """What a range of a stream touched: the notifier keys to wake."""

    rooms: Collection[str] = ()
    users: Collection[str] = ()


# async (writer instance, from position (exclusive), to position (inclusive))
#   -> what changed, or None when it cannot tell (every waiter is woken)
StreamReader = Callable[[str, int, int], Awaitable[StreamUpdates | None]]


class ReplicationPositions:
    """See the module docstring. Subscribes to every stream of the registry
    on construction, so build it before anything else subscribes to the bus:
    other subscribers then see generators that have already advanced."""

    def __init__(
        self,
        instance_name: str,
        id_generators: Mapping[str, StreamIdGenerator],
        bus: ReplicationBus,
        notifier: Notifier,
        clock: Clock,
        stored_position: Callable[[str, str], Awaitable[int]] | None = None,
    ) -> None:
        """`stored_position(stream, instance)` reads a writer's position as
        recorded in the database: the fallback while the bus is down."""
        self.instance_name = instance_name
        self._stored_position = stored_position
        # read at message time: server.py fills this mapping during setup()
        self._generators = id_generators
        self._bus = bus
        self._notifier = notifier
        self._clock = clock
        self._readers: dict[str, StreamReader] = {}
        self._ranges_read_first: set[str] = set()
        self._last_published: dict[str, int] = {}
        self._waiters: dict[tuple[str, str], list[tuple[int, defer.Deferred[bool]]]] = {}
        for spec in STREAMS:
            bus.subscribe(spec.name, functools.partial(self._on_position, spec.name))
        bus.on_replicate(self.publish_all)
        notifier.add_stream_listener(self._on_stream_update)

    def register_stream_reader(self, stream: str, reader: StreamReader, read_range_first: bool = False) -> None:
        """Sets the hook that says what a remote writer's new range touched.
        With `read_range_first` the range is read before this process's
        position moves (the reader reads the writer's rows in the range; the
        notifier's change cache is then complete up to every token), else
        after (the events waker reads what the new token passed)."""
        if stream in self._readers:
            raise ValueError(f"stream {stream!r} already has a reader")
        self._readers[stream] = reader
        if read_range_first:
            self._ranges_read_first.add(stream)

    # -- publishing ----------------------------------------------------------

    def publish_all(self) -> None:
        """Publishes this process's position of every stream it writes."""
        for stream, gen in self._generators.items():
            if gen.is_writer:
                position = gen.get_current_token_for_writer(self.instance_name)
                self._last_published[stream] = position
                self._bus.publish(stream, position)

    def _publish_if_moved(self, stream: str) -> None:
        gen = self._generators.get(stream)
        if gen is None or not gen.is_writer:
            return
        position = gen.get_current_token_for_writer(self.instance_name)
        if position > self._last_published.get(stream, -1):
            self._last_published[stream] = position
            self._bus.publish(stream, position)

    def _on_stream_update(self, stream: str, _position: int) -> None:
        """The notifier's listener: a stream moved (a local write, or a remote
        one this class applied)."""
        self._publish_if_moved(stream)
        self._wake_waiters(stream)

    # -- applying remote positions ------------------------------------------

    async def _poll_stored_position(self, stream: str, instance: str, waiting: "defer.Deferred[bool]") -> None:
        """While the bus is down, positions are read from the database: the
        writer records its position in the transaction of every write, so a
        caller waiting for its own write is not held up until Redis returns."""
        assert self._stored_position is not None
        while not waiting.called and not self._bus.state().connected:
            try:
                stored = await self._stored_position(stream, instance)
            except Exception:
                logger.exception("Reading the stored position of %s@%s failed", stream, instance)
            else:
                await self._on_position(stream, instance, stored)
            if not waiting.called:
                await self._clock.sleep(STORED_POSITION_POLL_S)

    async def _on_position(self, stream: str, instance: str, position: int) -> None:
        if instance == self.instance_name:
            return  # our own writes advance our generator and notify locally
        gen = self._generators.get(stream)
        if gen is None or instance not in gen.writers:
            logger.debug("Ignoring %s@%d: not a writer of %r here", instance, position, stream)
            return
        before = gen.get_current_token_for_writer(instance)
        if stream in self._ranges_read_first:
            # the writer's rows in (before, position] are committed: record
            # who they touched before the position moves here, so a /sync
            # reading the new token finds every change up to it recorded
            if position > before:
                updates = await self._read_updates(stream, instance, before, position)
                gen.advance(instance, position)
                self._notify(stream, gen, updates)
        else:
            gen.advance(instance, position)
            after = gen.get_current_token_for_writer(instance)
            if after > before:
                self._notify(stream, gen, await self._read_updates(stream, instance, before, after))
        # also when nothing moved for `instance`: our own idle position may have
        self._publish_if_moved(stream)
        self._wake_waiters(stream)

    def _notify(self, stream: str, gen: StreamIdGenerator, updates: StreamUpdates | None) -> None:
        token = gen.get_current_token()
        if updates is None:
            self._notifier.on_unknown_changes(stream, token)
        else:
            self._notifier.on_new_event(stream, token, updates.rooms, updates.users)

    async def _read_updates(self, stream: str, instance: str, before: int, after: int) -> StreamUpdates | None:
        reader = self._readers.get(stream)
        if reader is None:
            return None
        try:
            return await reader(instance, before, after)
        except Exception:
            logger.exception(
                "Reading %s updates of %s in (%d, %d] failed; waking everyone", stream, instance, before, after
            )
            return None

    # -- waiting -------------------------------------------------------------

    async def wait_for_position(
        self, stream: str, instance: str, position: int, timeout: float = DEFAULT_WAIT_TIMEOUT_S
    ) -> bool:
        """Returns True once `instance`'s position on `stream` is at least
        `position` here; False (and a warning) after `timeout` seconds or if
        `instance` does not write `stream`."""
        gen = self._generators.get(stream)
        if gen is None or instance not in gen.writers:
            logger.warning("Cannot wait for %s@%d: not a writer of %r here", instance, position, stream)
            return False
        if gen.get_current_token_for_writer(instance) >= position:
            return True
        d: defer.Deferred[bool] = defer.Deferred()
        entry = (position, d)
        waiters = self._waiters.setdefault((stream, instance), [])
        waiters.append(entry)

        def give_up() -> None:
            if not d.called:
                d.callback(False)

        timer = self._clock.call_later(timeout, give_up)
        if self._stored_position is not None and not self._bus.state().connected:
            defer.ensureDeferred(self._poll_stored_position(stream, instance, d))
        try:
            reached = await d
        finally:
            if timer.active():
                timer.cancel()
            if entry in waiters:
                waiters.remove(entry)
            if not waiters:
                self._waiters.pop((stream, instance), None)
        if not reached:
            logger.warning(
                "Timed out after %.1fs waiting for %s to reach %s@%d (at %d); answering anyway",
                timeout,
                stream,
                instance,
                position,
                gen.get_current_token_for_writer(instance),
            )
        return reached

    def _wake_waiters(self, stream: str) -> None:
        gen = self._generators.get(stream)
        if gen is None:
            return
        for (waiting_stream, instance), waiters in list(self._waiters.items()):
            if waiting_stream != stream:
                continue
            current = gen.get_current_token_for_writer(instance)
            for position, d in list(waiters):
                if position <= current and not d.called:
                    d.callback(True)

    # -- observing -----------------------------------------------------------

    def stream_positions(self) -> dict[str, dict[str, int]]:
        """stream -> writer instance -> position, as known here."""
        return {stream: gen.get_positions() for stream, gen in self._generators.items()}

    def stream_lag(self, stream: str) -> int:
        """How far this process's token trails the furthest writer it knows of."""
        gen = self._generators[stream]
        return max(gen.get_positions().values()) - gen.get_current_token()
