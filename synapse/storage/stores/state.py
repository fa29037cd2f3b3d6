"""Reading room state: state groups, the state at an event, current state.

A state group's full state is its own rows over those of its `prev_group`
chain (later groups win). Groups never change once written, so resolved
groups are kept in an LRU cache (`LruCache` named "state_groups"). Current
state is read from the database every time, so no cache needs invalidating
when another process changes it.
"""

from typing import Any, Collection, Iterable, Optional

from synapse.api.errors import NotFoundError
from synapse.events.model import FrozenEvent
from synapse.state import StateMap
from synapse.storage.database import DatabasePool
from synapse.storage.stores.events_read import EventsReadStore
from synapse.util.caches import LruCache

_GROUP_CACHE_SIZE = 2_000


class StateStore:
    def __init__(self, db: DatabasePool, events: EventsReadStore) -> None:
        self.db = db
        self.events = events
        self._group_cache: LruCache[int, StateMap] = LruCache("state_groups", _GROUP_CACHE_SIZE)

    # -- state groups -------------------------------------------------------
    async def get_state_for_group(self, group: int) -> StateMap:
        cached = self._group_cache.get(group)
        if cached is not None:
            return dict(cached)
        state = await self.db.runInteraction("get_state_for_group", get_state_for_group_txn, group, db_autocommit=True)
        self._group_cache.set(group, state)
        return dict(state)

    async def get_state_groups_for_events(self, event_ids: Collection[str]) -> dict[str, tuple[int, int]]:
        """event id -> (state group after, state group before), for events we have state for."""
        ids = list(event_ids)
        if not ids:
            return {}

        def txn_fn(txn: Any) -> dict[str, tuple[int, int]]:
            clause, args = self.db.engine.in_list_clause("event_id", ids)
            txn.execute(
                f"SELECT event_id, state_group, state_group_before FROM event_to_state_groups WHERE {clause}", args
            )
            return {r[0]: (int(r[1]), int(r[2])) for r in txn.fetchall()}

        return await self.db.runInteraction("get_state_groups_for_events", txn_fn, db_autocommit=True)

    # -- state at events ------------------------------------------------------
    async def get_state_ids_for_event(self, event_id: str, before: bool = False) -> StateMap:
        """The state after the event (including it, if state), or before it."""
        result = await self.get_state_ids_for_events([event_id], before=before)
        if event_id not in result:
            raise NotFoundError(f"No state known for event {event_id}")
        return result[event_id]

    async def get_state_ids_for_events(self, event_ids: Iterable[str], before: bool = False) -> dict[str, StateMap]:
        groups = await self.get_state_groups_for_events(list(event_ids))
        result: dict[str, StateMap] = {}
        for event_id, (after_group, before_group) in groups.items():
            result[event_id] = await self.get_state_for_group(before_group if before else after_group)
        return result

    # -- current state --------------------------------------------------------
    async def get_current_state_ids(self, room_id: str) -> StateMap:
        def txn_fn(txn: Any) -> StateMap:
            txn.execute("SELECT type, state_key, event_id FROM current_state_events WHERE room_id = ?", (room_id,))
            return {(r[0], r[1]): r[2] for r in txn.fetchall()}

        return await self.db.runInteraction("get_current_state_ids", txn_fn, db_autocommit=True)

    async def get_current_state(self, room_id: str) -> dict[tuple[str, str], FrozenEvent]:
        ids = await self.get_current_state_ids(room_id)
        events = await self.events.get_events(list(ids.values()))
        return {key: events[eid] for key, eid in ids.items() if eid in events}

    async def get_current_state_event(
        self, room_id: str, event_type: str, state_key: str = ""
    ) -> Optional[FrozenEvent]:
        def txn_fn(txn: Any) -> Optional[str]:
            txn.execute(
                "SELECT event_id FROM current_state_events WHERE room_id = ? AND type = ? AND state_key = ?",
                (room_id, event_type, state_key),
            )
            row = txn.fetchone()
            return row[0] if row else None

        event_id = await self.db.runInteraction("get_current_state_event", txn_fn, db_autocommit=True)
        if event_id is None:
            return None
        return await self.events.get_event(event_id, allow_none=True)


def get_state_for_group_txn(txn: Any, group: int) -> StateMap:
    """The full state of `group`, walking its delta chain (used by the persister too)."""
    chain: list[int] = []
    current: Optional[int] = group
    while current is not None:
        chain.append(current)
        txn.execute("SELECT prev_group FROM state_groups WHERE id = ?", (current,))
        row = txn.fetchone()
        if row is None:
            raise NotFoundError(f"Unknown state group {current}")
        current = int(row[0]) if row[0] is not None else None
    state: StateMap = {}
    for member in reversed(chain):
        txn.execute("SELECT type, state_key, event_id FROM state_groups_state WHERE state_group = ?", (member,))
        for event_type, state_key, event_id in txn.fetchall():
            state[(event_type, state_key)] = event_id
    return state
