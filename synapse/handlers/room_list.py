"""RoomListHandler: the public room directory (GET/POST /publicRooms).

Entries are built from each published room's current state and sorted by
joined member count (largest first), then room id, so that offsets are
stable between pages. Pagination tokens are opaque to clients: `n<offset>`
for the next page and `p<offset>` for the previous one.
"""

from typing import Any, Optional

from synapse.api.errors import Codes, SynapseError
from synapse.events.model import JsonDict

_STATE_FIELDS = (
    ("m.room.name", "name", "name"),
    ("m.room.topic", "topic", "topic"),
    ("m.room.canonical_alias", "alias", "canonical_alias"),
    ("m.room.avatar", "url", "avatar_url"),
    ("m.room.join_rules", "join_rule", "join_rule"),
)


def _parse_since(since: Optional[str]) -> int:
    if since is None:
        return 0
    if len(since) > 1 and since[0] in "np" and since[1:].isdigit():
        return int(since[1:])
    raise SynapseError(400, f"Invalid pagination token {since!r}", Codes.INVALID_PARAM)


class RoomListHandler:
    def __init__(self, hs: Any) -> None:
        self._hs = hs

    async def get_public_rooms(
        self,
        limit: Optional[int] = None,
        since: Optional[str] = None,
        search_term: Optional[str] = None,
        room_types: Optional[list[Optional[str]]] = None,
    ) -> JsonDict:
        offset = _parse_since(since)
        if not self._hs.config.roomdirectory.enable_room_list_search:
            return {"chunk": [], "total_room_count_estimate": 0}
        stores = self._hs.stores
        room_ids = await stores.rooms.get_public_room_ids()
        counts = await stores.members.get_joined_member_counts(room_ids)
        entries = []
        for room_id in room_ids:
            entry = await self._entry(room_id, counts.get(room_id, 0))
            if room_types is not None and entry.get("room_type") not in room_types:
                continue
            if search_term and not _matches(entry, search_term):
                continue
            entries.append(entry)
        entries.sort(key=lambda e: (-e["num_joined_members"], e["room_id"]))

        end = len(entries) if limit is None else offset + limit
        result: JsonDict = {"chunk": entries[offset:end], "total_room_count_estimate": len(entries)}
        if end < len(entries):
            result["next_batch"] = f"n{end}"
        if offset > 0:
            result["prev_batch"] = f"p{max(0, offset - (limit or offset))}"
        return result

    async def _entry(self, room_id: str, joined: int) -> JsonDict:
        state = await self._hs.stores.state.get_current_state(room_id)
        entry: JsonDict = {
            "room_id": room_id,
            "num_joined_members": joined,
            "world_readable": False,
            "guest_can_join": False,
        }
        for event_type, key, field in _STATE_FIELDS:
            event = state.get((event_type, ""))
            if event is not None and isinstance(event.content.get(key), str) and event.content[key]:
                entry[field] = event.content[key]
        visibility = state.get(("m.room.history_visibility", ""))
        if visibility is not None:
            entry["world_readable"] = visibility.content.get("history_visibility") == "world_readable"
        guest = state.get(("m.room.guest_access", ""))
        if guest is not None:
            entry["guest_can_join"] = guest.content.get("guest_access") == "can_join"
        create = state.get(("m.room.create", ""))
        if create is not None and isinstance(create.content.get("type"), str):
            entry["room_type"] = create.content["type"]
        return entry


def _matches(entry: JsonDict, term: str) -> bool:
    needle = term.casefold()
    return any(needle in str(entry.get(field, "")).casefold() for field in ("name", "topic", "canonical_alias"))
