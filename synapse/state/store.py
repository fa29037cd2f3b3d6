"""What state resolution needs from storage, and a batching event cache.

State resolution is pure logic over events; the only I/O is fetching
events by id. `EventFetcher` puts the caller's in-flight events in front of
the store and asks the store for whatever is missing in one batch per call.
"""

from collections.abc import Collection, Iterable
from typing import Optional, Protocol

from synapse.events.model import FrozenEvent

StateKey = tuple[str, str]
StateMap = dict[StateKey, str]


class StateResolutionStore(Protocol):
    async def get_events(self, event_ids: Collection[str]) -> dict[str, FrozenEvent]:
        """The events we have among `event_ids` (rejected ones included); unknown ids are left out."""
        ...


class EventFetcher:
    """Events by id: in-flight ones first, then the store, each id asked for once."""

    def __init__(self, event_map: Optional[dict[str, FrozenEvent]], store: StateResolutionStore) -> None:
        self._events: dict[str, FrozenEvent] = dict(event_map or {})
        self._missing: set[str] = set()
        self._store = store

    async def get_many(self, event_ids: Iterable[str]) -> dict[str, FrozenEvent]:
        wanted = set(event_ids)
        to_fetch = [e for e in wanted if e not in self._events and e not in self._missing]
        if to_fetch:
            fetched = await self._store.get_events(to_fetch)
            self._events.update(fetched)
            self._missing.update(e for e in to_fetch if e not in fetched)
        return {e: self._events[e] for e in wanted if e in self._events}

    def cached(self, event_id: str) -> FrozenEvent:
        """An event already fetched; a KeyError means a caller forgot to fetch."""
        return self._events[event_id]
