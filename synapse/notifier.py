"""Wakes long-polling /sync and /events requests when streams advance.

Writers (or, on other processes, the replication reader) call
`on_new_event` after a write is committed and its position is readable. A
waiter listens on its user id and the rooms it is in; it registers before it
checks for new data, so no update between the check and the wait is lost.
"""

import logging
from typing import Awaitable, Callable, Collection, Iterable, Optional, TypeVar

from prometheus_client import Counter, Gauge
from twisted.internet import defer

from synapse.streams.change_cache import StreamChangeCache
from synapse.util.clock import Clock

logger = logging.getLogger(__name__)

T = TypeVar("T")

sync_waiters_gauge = Gauge("synapse_notifier_waiters", "Requests long-polling for new data")
notified_counter = Counter("synapse_notifier_notified", "Stream updates passed to the notifier", ["stream"])


class _Waiter:
    __slots__ = ("deferred", "keys")

    def __init__(self, keys: list[str]) -> None:
        self.deferred: defer.Deferred[None] = defer.Deferred()
        self.keys = keys

    def wake(self) -> None:
        if not self.deferred.called:
            self.deferred.callback(None)


class Notifier:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        # "@user:hs" or "!room" -> waiters listening on it
        self._listeners: dict[str, set[_Waiter]] = {}
        self._on_new_event_callbacks: list[Callable[[str, int], None]] = []
        self._changes: dict[str, StreamChangeCache] = {}

    def track_changes(self, stream: str, earliest_known: int) -> StreamChangeCache:
        """Starts recording which rooms and users `stream` changes; call it
        before the stream can move (at setup), with its current token."""
        cache = self._changes[stream] = StreamChangeCache(earliest_known)
        return cache

    def changes(self, stream: str) -> Optional[StreamChangeCache]:
        return self._changes.get(stream)

    def add_stream_listener(self, callback: Callable[[str, int], None]) -> None:
        """Called with (stream, position) on every update, e.g. to publish it."""
        self._on_new_event_callbacks.append(callback)

    def on_new_event(self, stream: str, position: int, rooms: Iterable[str] = (), users: Iterable[str] = ()) -> None:
        """A committed change of `stream` at or below `position`, touching
        `rooms` and `users`."""
        notified_counter.labels(stream).inc()
        rooms, users = list(rooms), list(users)
        cache = self._changes.get(stream)
        if cache is not None:
            cache.record(position, rooms + users)
        to_wake: set[_Waiter] = set()
        for key in (*rooms, *users):
            to_wake.update(self._listeners.get(key, ()))
        for waiter in to_wake:
            waiter.wake()
        for callback in self._on_new_event_callbacks:
            callback(stream, position)

    def on_unknown_changes(self, stream: str, position: int) -> None:
        """`stream` moved to `position` and who it touched is unknown: its
        changes up to there can no longer be answered from memory."""
        cache = self._changes.get(stream)
        if cache is not None:
            cache.forget_before(position)
        self.on_new_event(stream, position)
        self.wake_all()

    def wake_all(self) -> None:
        """Wakes every waiter: used when a stream moved without per-room detail."""
        for waiters in list(self._listeners.values()):
            for waiter in list(waiters):
                waiter.wake()

    async def wait_for_events(
        self,
        user_id: str,
        room_ids: Collection[str],
        timeout_ms: int,
        check: Callable[[], Awaitable[T]],
    ) -> T:
        """Returns `check()` as soon as it is truthy, or its last value at the timeout.

        `room_ids` are re-read from `check`'s world on every wake-up by the
        caller passing a new call if membership changed; a membership change
        of the user always wakes them through their user id.
        """
        deadline = self._clock.time() + timeout_ms / 1000.0
        while True:
            waiter = self._register([user_id, *room_ids])
            try:
                result = await check()
                remaining = deadline - self._clock.time()
                if result or remaining <= 0:
                    return result
                timer = self._clock.call_later(remaining, waiter.wake)
                sync_waiters_gauge.inc()
                try:
                    await waiter.deferred
                finally:
                    sync_waiters_gauge.dec()
                    if timer.active():
                        timer.cancel()
            finally:
                self._unregister(waiter)

    def _register(self, keys: list[str]) -> _Waiter:
        waiter = _Waiter(keys)
        for key in keys:
            self._listeners.setdefault(key, set()).add(waiter)
        return waiter

    def _unregister(self, waiter: _Waiter) -> None:
        for key in waiter.keys:
            waiters = self._listeners.get(key)
            if waiters is not None:
                waiters.discard(waiter)
                if not waiters:
                    del self._listeners[key]
