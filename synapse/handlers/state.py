"""StateHandler: the room state a new event is built and authorised against.

The state before a new event is the state after its prev events. When they
all share a state group that group is reused as is; when they disagree
(the DAG is forked) the states are resolved with the room version's state
resolution algorithm and the persister writes a new group for the result.
"""

from typing import Any, Collection

from synapse.events.room_versions import RoomVersion
from synapse.events.snapshot import EventContext
from synapse.state import resolve_events


class StateHandler:
    def __init__(self, hs: Any) -> None:
        self._stores = hs.stores

    async def compute_context_for_new_event(
        self, room_version: RoomVersion, prev_event_ids: Collection[str]
    ) -> EventContext:
        """The EventContext for an event whose prev events are `prev_event_ids`."""
        if not prev_event_ids:
            return EventContext(state_ids_before={})
        groups = await self._stores.state.get_state_groups_for_events(prev_event_ids)
        missing = set(prev_event_ids) - set(groups)
        if missing:
            raise RuntimeError(f"No state stored for prev events {sorted(missing)}")
        distinct = sorted({after for after, _ in groups.values()})
        if len(distinct) == 1:
            state = await self._stores.state.get_state_for_group(distinct[0])
            return EventContext(state_ids_before=state, state_group_before=distinct[0])
        state_sets = [await self._stores.state.get_state_for_group(g) for g in distinct]
        resolved = await resolve_events(room_version, state_sets, None, self._stores.events.unredacted_view())
        return EventContext(state_ids_before=resolved, prev_group_hint=distinct[-1])
