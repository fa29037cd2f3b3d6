"""History visibility: which events a user may see (CS API "Room History Visibility").

The rules are evaluated with the room state *at each event*: the
`m.room.history_visibility` in force and the user's membership then. For
`shared`, a user who joined at any point after the event may see it, which
needs the user's membership history, read once per room. State at events
comes from the state store in one batched call for the whole list.
"""

from typing import TYPE_CHECKING, Iterable, Optional

import attrs

from synapse.api.errors import AuthError, Codes
from synapse.events.model import FrozenEvent

if TYPE_CHECKING:
    from synapse.server import HomeServer

HISTORY_VISIBILITY = ("m.room.history_visibility", "")
_KNOWN_VISIBILITIES = ("world_readable", "shared", "invited", "joined")


def visibility_allows(visibility: str, membership: Optional[str], joined_later: bool) -> bool:
    """The spec's four rules for one event."""
    if visibility not in _KNOWN_VISIBILITIES:
        visibility = "shared"
    if visibility == "world_readable" or membership == "join":
        return True
    if visibility == "shared" and joined_later:
        return True
    return visibility == "invited" and membership == "invite"


@attrs.frozen
class RoomAccess:
    """How a user may read a room: as a (former) member, or peeking at a world_readable room."""

    membership: Optional[str]
    # the user's current member event, when they have one
    member_event_id: Optional[str]
    is_peeking: bool


class VisibilityHandler:
    def __init__(self, hs: "HomeServer") -> None:
        self._hs = hs

    async def check_can_read_room(self, room_id: str, user_id: str) -> RoomAccess:
        """Joined users and users who left or were banned may read (what they
        were allowed to see); others only a world_readable room. 403 otherwise,
        also for unknown rooms, so that room existence does not leak."""
        stores = self._hs.stores
        current = await stores.members.get_membership(room_id, user_id)
        if current is not None and current[0] in ("join", "leave", "ban"):
            return RoomAccess(current[0], current[1], is_peeking=False)
        vis_event = await stores.state.get_current_state_event(room_id, *HISTORY_VISIBILITY)
        if vis_event is not None and vis_event.content.get("history_visibility") == "world_readable":
            return RoomAccess(current[0] if current else None, current[1] if current else None, is_peeking=True)
        raise AuthError(403, f"User {user_id} is not in room {room_id}", Codes.FORBIDDEN)

    async def filter_events_for_client(
        self, user_id: str, events: Iterable[FrozenEvent], is_peeking: bool = False
    ) -> list[FrozenEvent]:
        """The events (in the given order) that `user_id` may see.

        `is_peeking` is for a user outside the room (room previews): then only
        what was world_readable is shown, never history by virtue of a later join.
        """
        events = [e for e in events if e.internal_metadata.rejected_reason is None]
        if not events:
            return []
        stores = self._hs.stores
        ids = [e.event_id for e in events]
        state_after = await stores.state.get_state_ids_for_events(ids)
        # events where the state before also counts: history visibility changes
        # and the user's own membership changes
        special = [
            e.event_id
            for e in events
            if (e.type, e.state_key) == HISTORY_VISIBILITY or (e.type == "m.room.member" and e.state_key == user_id)
        ]
        state_before = await stores.state.get_state_ids_for_events(special, before=True) if special else {}
        member_key = ("m.room.member", user_id)
        needed = {
            state[key]
            for states in (state_after, state_before)
            for state in states.values()
            for key in (HISTORY_VISIBILITY, member_key)
            if key in state
        }
        state_events = await stores.events.get_events(list(needed))

        last_join: dict[str, int] = {}
        if not is_peeking:
            room_ids = sorted({e.room_id for e in events})
            history = await stores.stream.get_membership_history(user_id, room_ids)
            for room_id, changes in history.items():
                joins = [c.stream_ordering for c in changes if c.membership == "join"]
                if joins:
                    last_join[room_id] = max(joins)

        def allowed(event: FrozenEvent, state: Optional[dict]) -> bool:
            if state is None:
                return False
            vis_event = state_events.get(state.get(HISTORY_VISIBILITY, ""))
            visibility = vis_event.content.get("history_visibility", "shared") if vis_event else "shared"
            member_event = state_events.get(state.get(member_key, ""))
            membership = member_event.membership if member_event else None
            stream = event.internal_metadata.stream_ordering or 0
            joined_later = event.room_id in last_join and last_join[event.room_id] > stream
            if is_peeking:
                membership, joined_later = None, False
            return visibility_allows(str(visibility), membership, joined_later)

        return [
            e
            for e in events
            if allowed(e, state_after.get(e.event_id))
            or (e.event_id in state_before and allowed(e, state_before[e.event_id]))
        ]
