"""A per-key lock that runs critical sections one after another, in order."""

from contextlib import asynccontextmanager
from typing import AsyncIterator, Hashable

from twisted.internet import defer


class KeyedLinearizer:
    """Runs the critical sections for one key strictly one after another, in arrival order.

    A caller cancelled while queueing does not let the next one in early:
    its place in the queue is released only when its predecessor's is.
    """

    def __init__(self) -> None:
        self._tails: dict[Hashable, "defer.Deferred[None]"] = {}

    @asynccontextmanager
    async def queue(self, key: Hashable) -> AsyncIterator[None]:
        previous = self._tails.get(key)
        released: "defer.Deferred[None]" = defer.Deferred()
        released.addBoth(self._forget, key, released)
        self._tails[key] = released
        acquired = previous is None
        try:
            if previous is not None:
                # wait on a deferred of our own, so that cancelling this
                # caller never cancels the predecessor's
                turn: "defer.Deferred[None]" = defer.Deferred()
                previous.addBoth(_fire, turn)
                await turn
                acquired = True
            yield
        finally:
            if acquired:
                released.callback(None)
            else:
                previous.addBoth(_fire, released)  # type: ignore[union-attr]

    def _forget(self, result: object, key: Hashable, released: "defer.Deferred[None]") -> object:
        if self._tails.get(key) is released:
            del self._tails[key]
        return result


def _fire(result: object, deferred: "defer.Deferred[None]") -> object:
    if not deferred.called:
        deferred.callback(None)
    return result
