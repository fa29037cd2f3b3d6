"""Room state: resolving the state of a room where its history forks.

- store.py: `StateMap`, the `StateResolutionStore` protocol the resolver
  fetches events through, and a batching event cache.
- auth_chain.py: the auth graph (events and the events that authorised
  them) and the walks state resolution v2 needs.
- v1.py: state resolution v1 (room version 1).
- v2.py: state resolution v2 (room versions 2-11) and v2.1 (room version 12).

`resolve_events` picks the algorithm for the room version.
"""

from collections.abc import Sequence
from typing import Optional

from synapse.events.model import FrozenEvent
from synapse.events.room_versions import RoomVersion, StateResolutionVersion
from synapse.state.store import StateKey, StateMap, StateResolutionStore
from synapse.state.v1 import resolve_v1
from synapse.state.v2 import resolve_v2

__all__ = ["StateKey", "StateMap", "StateResolutionStore", "resolve_events"]


async def resolve_events(
    room_version: RoomVersion,
    state_sets: Sequence[StateMap],
    event_map: Optional[dict[str, FrozenEvent]],
    store: StateResolutionStore,
) -> StateMap:
    """The state of the room given the states at the tips of its forks.

    `event_map` holds events not yet in the store (e.g. being persisted);
    anything else is fetched from `store`. The inputs are not modified.
    """
    if not state_sets:
        return {}
    if room_version.state_res == StateResolutionVersion.V1:
        return await resolve_v1(room_version, state_sets, event_map, store)
    return await resolve_v2(room_version, state_sets, event_map, store)
