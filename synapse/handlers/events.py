"""The legacy event stream: GET /events and GET /events/{eventId}.

`from` is a sync token (e.g. /initialSync's `end`); the answer is the
events after it in the user's rooms, in stream order, in the legacy v1
layout, long-polling like /sync when there are none yet.
"""

from typing import TYPE_CHECKING, Any, Optional

import attrs

from synapse.api.errors import NotFoundError, SynapseError
from synapse.events.model import FrozenEvent
from synapse.events.serialize import serialize_event, to_legacy_event_format
from synapse.streams.tokens import StreamToken
from synapse.types import Requester

if TYPE_CHECKING:
    from synapse.server import HomeServer

JsonDict = dict[str, Any]

# events per /events response; a client holding more comes straight back
MAX_EVENTS_PER_RESPONSE = 100


@attrs.frozen
class _Chunk:
    events: list[FrozenEvent]
    end: StreamToken

    def __bool__(self) -> bool:
        return bool(self.events)


class EventStreamHandler:
    def __init__(self, hs: "HomeServer") -> None:
        self._hs = hs

    async def get_stream(
        self, requester: Requester, from_token: Optional[str], timeout_ms: int, room_id: Optional[str] = None
    ) -> JsonDict:
        """{chunk, start, end}: events after `from` (or from now), waiting up to `timeout_ms`."""
        start = StreamToken.from_string(from_token) if from_token else self._hs.current_token()
        user_id = requester.user_id
        stores = self._hs.stores
        if room_id is not None:
            # peeking at one room (world_readable, or one the user is in)
            await self._hs.visibility.check_can_read_room(room_id, user_id)
            room_ids = [room_id]
        else:
            room_ids = [r.room_id for r in await stores.members.get_rooms_for_user(user_id)]

        async def check() -> _Chunk:
            now = self._hs.current_token()
            from_pos = min(start.room_key, now.room_key)
            rooms = set(room_ids)
            if room_id is None:
                changes = await stores.stream.get_membership_changes_for_user(user_id, from_pos, now.room_key)
                rooms.update(c.room_id for c in changes)
            events = await stores.stream.get_events_for_rooms_between(
                sorted(rooms), from_pos, now.room_key, MAX_EVENTS_PER_RESPONSE
            )
            end = now
            if len(events) >= MAX_EVENTS_PER_RESPONSE:
                last = events[-1].internal_metadata.stream_ordering or from_pos
                end = now.copy_and_replace("events", last)
            visible = await self._hs.visibility.filter_events_for_client(user_id, events)
            return _Chunk(visible, end)

        chunk = await self._hs.notifier.wait_for_events(user_id, room_ids, timeout_ms, check)
        now_ms = self._hs.clock.time_msec()
        return {
            "chunk": [
                to_legacy_event_format(
                    serialize_event(e, now_ms, requester_device_id=requester.device_id, requester_user_id=user_id)
                )
                for e in chunk.events
            ],
            "start": start.to_string(),
            "end": chunk.end.to_string(),
        }

    async def get_event(self, requester: Requester, event_id: str) -> JsonDict:
        """One event by id in the legacy layout; 404 if unknown or not visible."""
        event = await self._hs.stores.events.get_event(event_id, allow_none=True)
        if event is None:
            raise NotFoundError("Event not found")
        try:
            access = await self._hs.visibility.check_can_read_room(event.room_id, requester.user_id)
        except SynapseError as e:
            raise NotFoundError("Event not found") from e
        visible = await self._hs.visibility.filter_events_for_client(requester.user_id, [event], access.is_peeking)
        if not visible:
            raise NotFoundError("Event not found")
        return to_legacy_event_format(
            serialize_event(visible[0], self._hs.clock.time_msec(), requester_device_id=requester.device_id)
        )
