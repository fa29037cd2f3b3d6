"""DirectoryHandler: room aliases and a room's visibility in the room directory.

Aliases live on the server named in them; without federation, only local
aliases resolve. Who may remove an alias: its creator, a server admin, or
a member with the power to change the room's canonical alias.
"""

from typing import Any

from synapse.api.errors import AuthError, Codes, NotFoundError, SynapseError
from synapse.events.power_levels import get_send_level, get_user_power_level
from synapse.types import Requester, RoomAlias


class DirectoryHandler:
    def __init__(self, hs: Any) -> None:
        self._hs = hs

    def _local_alias(self, alias: str) -> RoomAlias:
        parsed = RoomAlias.from_string(alias)
        if parsed.domain != self._hs.hostname:
            raise SynapseError(400, "Room alias must be on this server", Codes.INVALID_PARAM)
        if not parsed.localpart or any(c.isspace() for c in parsed.localpart) or len(alias.encode("utf-8")) > 255:
            raise SynapseError(400, "Room alias invalid", Codes.INVALID_PARAM)
        return parsed

    async def create_association(self, requester: Requester, alias: str, room_id: str) -> None:
        """PUT /directory/room/{alias}: 409 M_UNKNOWN if the alias is taken."""
        parsed = self._local_alias(alias)
        stores = self._hs.stores
        if await stores.rooms.get_room(room_id) is None:
            raise NotFoundError(f"Unknown room {room_id}")
        if not self._hs.config.roomdirectory.is_alias_creation_allowed(
            requester.user_id, room_id, parsed.to_string()
        ) and not await stores.registration.is_admin(requester.user_id):
            raise AuthError(403, "Not allowed to create this alias")
        if not await stores.directory.create_room_alias(parsed.to_string(), room_id, requester.user_id):
            raise SynapseError(409, f"Room alias {alias} already exists", Codes.UNKNOWN)

    async def get_association(self, alias: str) -> dict[str, Any]:
        """GET /directory/room/{alias}: {room_id, servers}."""
        parsed = RoomAlias.from_string(alias)
        found = await self._hs.stores.directory.get_association(parsed.to_string())
        if found is None:
            raise NotFoundError(f"Room alias {alias} not found")
        return {"room_id": found["room_id"], "servers": [self._hs.hostname]}

    async def resolve_room_id(self, room_id_or_alias: str) -> str:
        """A room id, or the room an alias points to (404 if none)."""
        if room_id_or_alias.startswith("#"):
            return (await self.get_association(room_id_or_alias))["room_id"]
        if not room_id_or_alias.startswith("!"):
            raise SynapseError(400, f"{room_id_or_alias!r} is not a room id or alias", Codes.INVALID_PARAM)
        return room_id_or_alias

    async def delete_association(self, requester: Requester, alias: str) -> None:
        """DELETE /directory/room/{alias}; also drops it from m.room.canonical_alias."""
        parsed = self._local_alias(alias)
        stores = self._hs.stores
        found = await stores.directory.get_association(parsed.to_string())
        if found is None:
            raise NotFoundError(f"Room alias {alias} not found")
        room_id = found["room_id"]
        if not (
            found["creator"] == requester.user_id
            or await stores.registration.is_admin(requester.user_id)
            or await self._can_change_canonical_alias(requester.user_id, room_id)
        ):
            raise AuthError(403, "You may not remove this alias")
        await stores.directory.delete_room_alias(parsed.to_string())
        await self._remove_from_canonical_alias(requester, room_id, parsed.to_string())

    async def _can_change_canonical_alias(self, user_id: str, room_id: str) -> bool:
        state = await self._hs.stores.state.get_current_state(room_id)
        if (m := state.get(("m.room.member", user_id))) is None or m.membership != "join":
            return False
        level = get_user_power_level(user_id, state, state.get(("m.room.create", "")))
        return level >= get_send_level("m.room.canonical_alias", "", state.get(("m.room.power_levels", "")))

    async def _remove_from_canonical_alias(self, requester: Requester, room_id: str, alias: str) -> None:
        event = await self._hs.stores.state.get_current_state_event(room_id, "m.room.canonical_alias")
        if event is None:
            return
        content = dict(event.content)
        changed = False
        if content.get("alias") == alias:
            content.pop("alias")
            changed = True
        alt = content.get("alt_aliases")
        if isinstance(alt, list) and alias in alt:
            content["alt_aliases"] = [a for a in alt if a != alias]
            changed = True
        if not changed:
            return
        try:
            await self._hs.event_creation_handler.create_and_send_event(
                requester,
                {"type": "m.room.canonical_alias", "room_id": room_id, "state_key": "", "content": content},
                ratelimit=False,
            )
        except AuthError:
            # the alias is gone either way; a user without power cannot tidy the state
            pass

    async def get_local_aliases(self, requester: Requester, room_id: str) -> list[str]:
        """GET /rooms/{roomId}/aliases: for members, or anyone if history is world readable."""
        stores = self._hs.stores
        await stores.rooms.get_room_version(room_id)
        membership = await stores.members.get_membership(room_id, requester.user_id)
        if membership is None or membership[0] != "join":
            visibility = await stores.state.get_current_state_event(room_id, "m.room.history_visibility")
            if visibility is None or visibility.content.get("history_visibility") != "world_readable":
                raise AuthError(403, "You are not a member of the room")
        return await stores.directory.get_aliases_for_room(room_id)

    # -- room directory visibility ------------------------------------------------
    async def get_visibility(self, room_id: str) -> str:
        room = await self._hs.stores.rooms.get_room(room_id)
        if room is None:
            raise NotFoundError(f"Unknown room {room_id}")
        return "public" if room["is_public"] else "private"

    async def set_visibility(self, requester: Requester, room_id: str, visibility: str) -> None:
        """PUT /directory/list/room/{roomId}: room admins only, subject to the publishing rules."""
        if visibility not in ("public", "private"):
            raise SynapseError(400, "visibility must be 'public' or 'private'", Codes.INVALID_PARAM)
        stores = self._hs.stores
        if await stores.rooms.get_room(room_id) is None:
            raise NotFoundError(f"Unknown room {room_id}")
        is_admin = await stores.registration.is_admin(requester.user_id)
        if not (is_admin or await self._can_change_canonical_alias(requester.user_id, room_id)):
            raise AuthError(403, "You need to be a room admin to change its directory visibility")
        if visibility == "public" and not is_admin:
            aliases = await stores.directory.get_aliases_for_room(room_id)
            if not self._hs.config.roomdirectory.is_publishing_room_allowed(requester.user_id, room_id, aliases):
                raise AuthError(403, "Not allowed to publish this room")
        await stores.rooms.set_room_is_public(room_id, visibility == "public")
