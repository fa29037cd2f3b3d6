"""Reading one room's history: /messages, /context, a single event, member lists.

Pagination walks the room in topological order (`t<depth>-<stream>`
tokens; a /sync `s...` token is accepted as a starting point). Every page
is filtered by history visibility for the requester. A user who left the
room reads as of their leave: pagination never starts after it.
"""

from typing import TYPE_CHECKING, Any, Optional

from synapse.api.errors import Codes, NotFoundError, SynapseError
from synapse.api.filtering import DEFAULT_FILTER_COLLECTION, MAX_FILTER_LIMIT, Filter
from synapse.events.model import FrozenEvent
from synapse.handlers.visibility import RoomAccess
from synapse.storage.stores.stream import token_after, token_before
from synapse.streams.tokens import RoomStreamToken
from synapse.types import Requester

if TYPE_CHECKING:
    from synapse.server import HomeServer

JsonDict = dict[str, Any]
StateMap = dict[tuple[str, str], str]

DEFAULT_MESSAGES_LIMIT = 10
MEMBERSHIPS = ("join", "invite", "knock", "leave", "ban")


class PaginationHandler:
    def __init__(self, hs: "HomeServer") -> None:
        self._hs = hs

    # -- helpers --------------------------------------------------------------
    def _format(self, requester: Requester, events: list[FrozenEvent]) -> list[JsonDict]:
        return DEFAULT_FILTER_COLLECTION.format_events(
            events,
            self._hs.clock.time_msec(),
            requester_user_id=requester.user_id,
            requester_device_id=requester.device_id,
        )

    async def _leave_cap(self, access: RoomAccess) -> Optional[RoomStreamToken]:
        """For a user who left or was banned: the gap just after their leave."""
        if access.is_peeking or access.membership not in ("leave", "ban") or access.member_event_id is None:
            return None
        event = await self._hs.stores.events.get_event(access.member_event_id)
        return token_after(event)

    async def _lazy_members(self, events: list[FrozenEvent]) -> list[FrozenEvent]:
        """The member event of each sender, as of the events they sent."""
        if not events:
            return []
        states = await self._hs.stores.state.get_state_ids_for_events([e.event_id for e in events])
        member_ids: dict[str, str] = {}
        for event in events:
            event_id = states.get(event.event_id, {}).get(("m.room.member", event.sender))
            if event_id is not None:
                member_ids.setdefault(event.sender, event_id)
        return await self._hs.stores.events.get_events_as_list(list(member_ids.values()))

    # -- /messages ------------------------------------------------------------
    async def get_messages(
        self,
        requester: Requester,
        room_id: str,
        *,
        from_token: Optional[str],
        to_token: Optional[str],
        direction: str,
        limit: Optional[int],
        event_filter: Optional[Filter],
    ) -> JsonDict:
        """GET /rooms/{roomId}/messages: one page of the room's history."""
        if direction not in ("b", "f"):
            raise SynapseError(400, "dir must be 'b' or 'f'", Codes.INVALID_PARAM)
        start = RoomStreamToken.parse(from_token) if from_token else None
        end_bound = RoomStreamToken.parse(to_token) if to_token else None
        limit = DEFAULT_MESSAGES_LIMIT if limit is None else min(limit, MAX_FILTER_LIMIT)
        access = await self._hs.visibility.check_can_read_room(room_id, requester.user_id)
        stream = self._hs.stores.stream
        if start is None:
            start = RoomStreamToken(None, stream.get_current_position()) if direction == "b" else RoomStreamToken(0, 0)
        # `start` echoes the client's `from` exactly (the spec), whatever form it had
        start_string = from_token or start.to_string()
        cap = await self._leave_cap(access)
        if cap is not None and direction == "b":
            start = min(await stream.get_topological_token(room_id, start), cap)
        elif cap is not None:
            end_bound = cap if end_bound is None else min(await stream.get_topological_token(room_id, end_bound), cap)

        if limit == 0 or (event_filter is not None and event_filter.blocks_all()):
            return {"chunk": [], "start": start_string}
        events, next_token = await stream.paginate_room_events(
            room_id, start, end_bound, direction, limit, event_filter
        )
        visible = await self._hs.visibility.filter_events_for_client(
            requester.user_id, events, is_peeking=access.is_peeking
        )
        if events and not visible and direction == "b":
            # nothing in this page is visible: earlier history is hidden too
            next_token = None
        chunk = await self._hs.relations_handler.serialize_with_aggregations(requester, visible)
        result: JsonDict = {"chunk": chunk, "start": start_string}
        if next_token is not None:
            result["end"] = next_token.to_string()
        if event_filter is not None and event_filter.lazy_load_members:
            result["state"] = self._format(requester, await self._lazy_members(visible))
        return result

    # -- /context -------------------------------------------------------------
    async def get_event_context(
        self,
        requester: Requester,
        room_id: str,
        event_id: str,
        limit: int,
        event_filter: Optional[Filter],
    ) -> JsonDict:
        """GET /rooms/{roomId}/context/{eventId}: the event, its neighbours and the state there."""
        access = await self._hs.visibility.check_can_read_room(room_id, requester.user_id)
        event = await self._visible_event(requester, room_id, event_id, access)
        limit = min(limit, MAX_FILTER_LIMIT)
        before_limit = limit // 2
        after_limit = limit - before_limit
        stream = self._hs.stores.stream
        visibility = self._hs.visibility
        before: list[FrozenEvent] = []
        after: list[FrozenEvent] = []
        if before_limit:
            before, _ = await stream.paginate_room_events(
                room_id, token_before(event), None, "b", before_limit, event_filter
            )
            before = await visibility.filter_events_for_client(requester.user_id, before, access.is_peeking)
        if after_limit:
            cap = await self._leave_cap(access)
            after, _ = await stream.paginate_room_events(
                room_id, token_after(event), cap, "f", after_limit, event_filter
            )
            after = await visibility.filter_events_for_client(requester.user_id, after, access.is_peeking)
        start = token_before(before[-1]) if before else token_before(event)
        end = token_after(after[-1]) if after else token_after(event)
        last = after[-1] if after else event
        state = await self._state_events_after(last)
        relations = self._hs.relations_handler
        if event_filter is not None and event_filter.lazy_load_members:
            senders = {e.sender for e in (*before, event, *after)}
            state = [s for s in state if s.type != "m.room.member" or s.state_key in senders]
        return {
            "event": (await relations.serialize_with_aggregations(requester, [event]))[0],
            "events_before": await relations.serialize_with_aggregations(requester, before),
            "events_after": await relations.serialize_with_aggregations(requester, after),
            "start": start.to_string(),
            "end": end.to_string(),
            "state": self._format(requester, state),
        }

    async def _state_events_after(self, event: FrozenEvent) -> list[FrozenEvent]:
        state_ids = await self._hs.stores.state.get_state_ids_for_events([event.event_id])
        ids = list(state_ids.get(event.event_id, {}).values())
        return await self._hs.stores.events.get_events_as_list(ids)

    async def _visible_event(
        self, requester: Requester, room_id: str, event_id: str, access: RoomAccess
    ) -> FrozenEvent:
        event = await self._hs.stores.events.get_event(event_id, allow_none=True)
        if event is None or event.room_id != room_id or event.internal_metadata.outlier:
            raise NotFoundError("Event not found")
        visible = await self._hs.visibility.filter_events_for_client(requester.user_id, [event], access.is_peeking)
        if not visible:
            raise NotFoundError("Event not found")
        return visible[0]

    # -- single event ---------------------------------------------------------
    async def get_event(self, requester: Requester, room_id: str, event_id: str) -> JsonDict:
        """GET /rooms/{roomId}/event/{eventId}: 404 whether unknown or not visible."""
        try:
            access = await self._hs.visibility.check_can_read_room(room_id, requester.user_id)
        except SynapseError as e:
            raise NotFoundError("Event not found") from e
        event = await self._visible_event(requester, room_id, event_id, access)
        return (await self._hs.relations_handler.serialize_with_aggregations(requester, [event]))[0]

    # -- members --------------------------------------------------------------
    async def get_members(
        self,
        requester: Requester,
        room_id: str,
        *,
        at: Optional[str],
        membership: Optional[str],
        not_membership: Optional[str],
    ) -> JsonDict:
        """GET /rooms/{roomId}/members: member events as of `at` (or now, or the user's leave)."""
        at_token = RoomStreamToken.parse(at) if at else None
        access = await self._hs.visibility.check_can_read_room(room_id, requester.user_id)
        cap = await self._leave_cap(access)
        stores = self._hs.stores
        if at_token is None and cap is None:
            state_ids: StateMap = await stores.state.get_current_state_ids(room_id)
        else:
            point = at_token or cap
            assert point is not None
            if cap is not None and at_token is not None:
                point = min(await stores.stream.get_topological_token(room_id, at_token), cap)
            last, _ = await stores.stream.paginate_room_events(room_id, point, None, "b", 1)
            if not last:
                return {"chunk": []}
            state_ids = (await stores.state.get_state_ids_for_events([last[0].event_id])).get(last[0].event_id, {})
        member_ids = [event_id for (etype, _), event_id in state_ids.items() if etype == "m.room.member"]
        members = await stores.events.get_events_as_list(member_ids)
        members = [
            m
            for m in members
            if (membership is None or m.membership == membership)
            and (not_membership is None or m.membership != not_membership)
        ]
        members.sort(key=lambda m: m.state_key or "")
        return {"chunk": self._format(requester, members)}

    async def get_joined_members(self, requester: Requester, room_id: str) -> JsonDict:
        """GET /rooms/{roomId}/joined_members: only for current members (the spec's 403 otherwise)."""
        current = await self._hs.stores.members.get_membership(room_id, requester.user_id)
        if current is None or current[0] != "join":
            raise SynapseError(403, f"User {requester.user_id} is not in room {room_id}", Codes.FORBIDDEN)
        joined = await self._hs.stores.members.get_joined_members(room_id)
        return {"joined": joined}

    async def get_joined_rooms(self, requester: Requester) -> JsonDict:
        rooms = await self._hs.stores.members.get_rooms_for_user(requester.user_id)
        return {"joined_rooms": [r.room_id for r in rooms]}
