"""The legacy snapshots: GET /initialSync and GET /rooms/{roomId}/initialSync.

Each room gets its recent messages (a backwards pagination chunk whose
`start` feeds /messages), its state (current, or as of the user's leave)
and the user's membership; the global form also returns an `end` sync token
to stream from with /events. Rooms are read in batched store calls.
"""

from typing import TYPE_CHECKING, Any

from synapse.api.errors import SynapseError
from synapse.events.model import FrozenEvent
from synapse.events.serialize import serialize_event, strip_event, to_legacy_event_format
from synapse.storage.stores.stream import token_before
from synapse.streams.tokens import RoomStreamToken
from synapse.types import Requester

if TYPE_CHECKING:
    from synapse.server import HomeServer

JsonDict = dict[str, Any]


class InitialSyncHandler:
    def __init__(self, hs: "HomeServer") -> None:
        self._hs = hs

    def _format(self, requester: Requester, events: list[FrozenEvent]) -> list[JsonDict]:
        now_ms = self._hs.clock.time_msec()
        return [
            to_legacy_event_format(
                serialize_event(e, now_ms, requester_device_id=requester.device_id, requester_user_id=requester.user_id)
            )
            for e in events
        ]

    async def initial_sync(self, requester: Requester, limit: int, include_archived: bool = False) -> JsonDict:
        """GET /initialSync."""
        stores = self._hs.stores
        user_id = requester.user_id
        now = self._hs.current_token()
        memberships = ("join", "invite", "leave", "ban") if include_archived else ("join", "invite")
        rooms = [
            r
            for r in await stores.members.get_rooms_for_user(user_id, memberships)
            if r.stream_ordering <= now.room_key
        ]
        readable = {r.room_id: r for r in rooms if r.membership != "invite"}
        ranges = {
            r.room_id: (0, now.room_key if r.membership == "join" else r.stream_ordering) for r in readable.values()
        }
        infos = await self._room_infos(requester, ranges, limit)
        result_rooms: list[JsonDict] = []
        invites = [r for r in rooms if r.membership == "invite"]
        invite_events = await stores.events.get_events([r.event_id for r in invites]) if invites else {}
        for r in rooms:
            info: JsonDict = {"room_id": r.room_id, "membership": r.membership}
            if r.membership == "invite":
                invite = invite_events.get(r.event_id)
                if invite is not None:
                    info["invite"] = self._format(requester, [invite])[0]
                    info["invite"]["unsigned"] = {"invite_room_state": self._invite_state(invite)}
            else:
                info.update(infos.get(r.room_id, {}))
            result_rooms.append(info)
        return {"end": now.to_string(), "rooms": result_rooms, "presence": [], "account_data": []}

    @staticmethod
    def _invite_state(invite: FrozenEvent) -> list[JsonDict]:
        carried = invite.unsigned.get("invite_room_state")
        return list(carried) if isinstance(carried, list) else [strip_event(invite)]

    async def room_initial_sync(self, requester: Requester, room_id: str, limit: int) -> JsonDict:
        """GET /rooms/{roomId}/initialSync: 403 unless the user may read the room."""
        access = await self._hs.visibility.check_can_read_room(room_id, requester.user_id)
        now = self._hs.current_token()
        upper = now.room_key
        if access.membership in ("leave", "ban") and not access.is_peeking and access.member_event_id:
            leave = await self._hs.stores.events.get_event(access.member_event_id)
            upper = leave.internal_metadata.stream_ordering or upper
        infos = await self._room_infos(requester, {room_id: (0, upper)}, limit, is_peeking=access.is_peeking)
        info = infos.get(room_id)
        if info is None:
            raise SynapseError(403, f"User {requester.user_id} may not read room {room_id}", "M_FORBIDDEN")
        membership = access.membership if access.membership is not None and not access.is_peeking else "leave"
        return {"room_id": room_id, "membership": membership, **info, "presence": [], "receipts": []}

    async def _room_infos(
        self, requester: Requester, ranges: dict[str, tuple[int, int]], limit: int, is_peeking: bool = False
    ) -> dict[str, JsonDict]:
        """messages, state, visibility and account_data per room, in batched calls."""
        stores = self._hs.stores
        timelines = await stores.stream.get_recent_events_for_room_ranges(ranges, limit) if limit > 0 else {}
        last_events: dict[str, FrozenEvent] = {}
        without_timeline: dict[int, list[str]] = {}
        for room_id, (_, upper) in ranges.items():
            if room_id not in timelines:
                without_timeline.setdefault(upper, []).append(room_id)
        for upper, room_ids in without_timeline.items():
            last_events.update(await stores.stream.get_last_event_in_rooms(room_ids, upper))
        # state at the end of each range: after the room's last event in range
        anchors: dict[str, str] = {}
        for room_id in ranges:
            timeline = timelines.get(room_id)
            if timeline is not None:
                anchors[room_id] = timeline.events[-1].event_id
            elif room_id in last_events:
                anchors[room_id] = last_events[room_id].event_id
        state_maps = await stores.state.get_state_ids_for_events(list(anchors.values()))
        state_events = await stores.events.get_events([eid for m in state_maps.values() for eid in m.values()])
        all_events = [e for t in timelines.values() for e in t.events]
        visible = await self._hs.visibility.filter_events_for_client(requester.user_id, all_events, is_peeking)
        visible_ids = {e.event_id for e in visible}
        public = set(await stores.rooms.get_public_room_ids())
        infos: dict[str, JsonDict] = {}
        for room_id, (_, upper) in ranges.items():
            if room_id not in anchors:
                continue
            timeline = timelines.get(room_id)
            events = [e for e in (timeline.events if timeline else []) if e.event_id in visible_ids]
            state_ids = state_maps.get(anchors[room_id], {})
            state = sorted(
                (state_events[eid] for eid in state_ids.values() if eid in state_events),
                key=lambda e: (e.type, e.state_key or ""),
            )
            messages: JsonDict = {
                "chunk": self._format(requester, events),
                "end": RoomStreamToken(None, upper).to_string(),
            }
            if timeline is not None:
                messages["start"] = token_before(timeline.events[0]).to_string()
            infos[room_id] = {
                "messages": messages,
                "state": self._format(requester, state),
                "visibility": "public" if room_id in public else "private",
                "account_data": [],
            }
        return infos
