"""RoomCreationHandler: POST /createRoom.

Everything the request asks for is validated before the first event is
sent (room version, alias availability, invitees, publishing rights), then
the initial events go out in the order the spec lists: create, the
creator's join, power levels, canonical alias, the preset's join rules /
history visibility / guest access, initial_state, name, topic, invites.
"""

import secrets
import string
from typing import Any, Optional

from synapse.api.errors import AuthError, Codes, SynapseError
from synapse.api.ratelimiting import ratelimiter_from_settings
from synapse.events.model import JsonDict
from synapse.events.power_levels import default_power_levels_content
from synapse.events.room_versions import KNOWN_ROOM_VERSIONS, RoomVersion
from synapse.types import Requester, RoomAlias, UserID

PRIVATE_CHAT = "private_chat"
TRUSTED_PRIVATE_CHAT = "trusted_private_chat"
PUBLIC_CHAT = "public_chat"

# preset -> (join_rule, history_visibility, guest_access or None)
_PRESETS: dict[str, tuple[str, str, Optional[str]]] = {
    PRIVATE_CHAT: ("invite", "shared", "can_join"),
    TRUSTED_PRIVATE_CHAT: ("invite", "shared", "can_join"),
    PUBLIC_CHAT: ("public", "shared", None),
}
_ROOM_ID_ALPHABET = string.ascii_letters


def _bad(msg: str, errcode: str = Codes.BAD_JSON) -> SynapseError:
    return SynapseError(400, msg, errcode)


class RoomCreationHandler:
    def __init__(self, hs: Any) -> None:
        self._hs = hs
        self._limiter = ratelimiter_from_settings(hs.clock, hs.config.ratelimiting.rc_room_creation)

    async def create_room(
        self, requester: Requester, config: JsonDict, ratelimit: bool = True
    ) -> tuple[str, Optional[str]]:
        """Creates the room; returns (room_id, room_alias or None)."""
        user_id = requester.user_id
        room_version = self._room_version(config)
        visibility = config.get("visibility", "private")
        if visibility not in ("public", "private"):
            raise _bad("visibility must be 'public' or 'private'", Codes.INVALID_PARAM)
        preset = config.get("preset", PUBLIC_CHAT if visibility == "public" else PRIVATE_CHAT)
        if preset not in _PRESETS:
            raise _bad(f"Unknown preset {preset!r}", Codes.INVALID_PARAM)
        invitees = self._invitees(config)
        alias = await self._alias_to_create(config)
        creation_content = _object(config, "creation_content")
        override = _object(config, "power_level_content_override")
        initial_state = self._initial_state(config)
        for key in ("name", "topic"):
            if key in config and not isinstance(config[key], str):
                raise _bad(f"'{key}' must be a string")
        if "is_direct" in config and not isinstance(config["is_direct"], bool):
            raise _bad("'is_direct' must be a boolean")
        if visibility == "public" and not await self._may_publish(user_id, alias):
            raise AuthError(403, "Not allowed to publish rooms in the room directory")
        if alias is not None and not await self._may_create_alias(user_id, alias):
            raise AuthError(403, "Not allowed to create this alias")
        if ratelimit:
            self._limiter.ratelimit(user_id)

        send = self._hs.event_creation_handler.create_and_send_event
        create_content = dict(creation_content)
        create_content["room_version"] = room_version.identifier
        if room_version.implicit_room_creator:
            create_content.pop("creator", None)
        else:
            create_content["creator"] = user_id
        if room_version.privileged_creators and preset == TRUSTED_PRIVATE_CHAT and invitees:
            extra = create_content.get("additional_creators") or []
            create_content["additional_creators"] = list(dict.fromkeys([*extra, *invitees]))
        create_dict: JsonDict = {"type": "m.room.create", "state_key": "", "content": create_content}
        if not room_version.room_id_from_create_event:
            create_dict["room_id"] = f"!{_random_localpart()}:{self._hs.hostname}"
        create_event = await send(requester, create_dict, ratelimit=False, room_version=room_version)
        room_id = create_event.room_id

        async def send_state(event_type: str, content: JsonDict, state_key: str = "") -> None:
            await send(
                requester,
                {"type": event_type, "room_id": room_id, "state_key": state_key, "content": content},
                ratelimit=False,
            )

        await self._hs.room_member_handler.update_membership(requester, user_id, room_id, "join", ratelimit=False)
        creators = [user_id, *create_content.get("additional_creators", [])]
        power_levels = initial_state.pop(("m.room.power_levels", ""), None)
        if power_levels is None:
            power_levels = default_power_levels_content(creators, room_version, preset, invitees)
        power_levels = {**power_levels, **override}
        await send_state("m.room.power_levels", power_levels)
        if alias is not None:
            if not await self._hs.stores.directory.create_room_alias(alias.to_string(), room_id, user_id):
                raise SynapseError(400, "Room alias already taken", Codes.ROOM_IN_USE)
            await send_state("m.room.canonical_alias", {"alias": alias.to_string()})

        join_rule, history_visibility, guest_access = _PRESETS[preset]
        preset_state = {
            ("m.room.join_rules", ""): {"join_rule": join_rule},
            ("m.room.history_visibility", ""): {"history_visibility": history_visibility},
        }
        if guest_access is not None:
            preset_state[("m.room.guest_access", "")] = {"guest_access": guest_access}
        for key in list(preset_state):
            if key in initial_state:
                preset_state.pop(key)
        for (event_type, state_key), content in [*preset_state.items(), *initial_state.items()]:
            await send_state(event_type, content, state_key)
        if "name" in config:
            await send_state("m.room.name", {"name": config["name"]})
        if "topic" in config:
            await send_state("m.room.topic", {"topic": config["topic"]})

        for invitee in invitees:
            content = {"is_direct": True} if config.get("is_direct") else {}
            await self._hs.room_member_handler.update_membership(
                requester, invitee, room_id, "invite", content=content, ratelimit=False
            )
        if visibility == "public":
            await self._hs.stores.rooms.set_room_is_public(room_id, True)
        return room_id, alias.to_string() if alias else None

    # -- request validation -----------------------------------------------------
    async def _may_publish(self, user_id: str, alias: Optional[RoomAlias]) -> bool:
        """The room directory's publication rules; server admins bypass them."""
        aliases = [alias.to_string()] if alias else []
        if self._hs.config.roomdirectory.is_publishing_room_allowed(user_id, "", aliases):
            return True
        return await self._hs.stores.registration.is_admin(user_id)

    async def _may_create_alias(self, user_id: str, alias: RoomAlias) -> bool:
        if self._hs.config.roomdirectory.is_alias_creation_allowed(user_id, "", alias.to_string()):
            return True
        return await self._hs.stores.registration.is_admin(user_id)

    def _room_version(self, config: JsonDict) -> RoomVersion:
        if "room_version" not in config:
            return self._hs.config.server.default_room_version
        version = config["room_version"]
        if not isinstance(version, str) or version not in KNOWN_ROOM_VERSIONS:
            raise SynapseError(400, f"Unsupported room version {version!r}", Codes.UNSUPPORTED_ROOM_VERSION)
        return KNOWN_ROOM_VERSIONS[version]

    def _invitees(self, config: JsonDict) -> list[str]:
        invite = config.get("invite", [])
        if not isinstance(invite, list) or not all(isinstance(u, str) for u in invite):
            raise _bad("'invite' must be a list of user ids")
        for user_id in invite:
            UserID.from_string(user_id)
        return [u for u in dict.fromkeys(invite)]

    async def _alias_to_create(self, config: JsonDict) -> Optional[RoomAlias]:
        name = config.get("room_alias_name")
        if name is None:
            return None
        if not isinstance(name, str) or not name or ":" in name or any(c.isspace() for c in name):
            raise SynapseError(400, "Invalid room_alias_name", Codes.INVALID_PARAM)
        alias = RoomAlias(name, self._hs.hostname)
        if len(alias.to_string().encode("utf-8")) > 255:
            raise SynapseError(400, "Room alias is too long", Codes.INVALID_PARAM)
        if await self._hs.stores.directory.get_association(alias.to_string()) is not None:
            raise SynapseError(400, "Room alias already taken", Codes.ROOM_IN_USE)
        return alias

    def _initial_state(self, config: JsonDict) -> dict[tuple[str, str], JsonDict]:
        entries = config.get("initial_state", [])
        if not isinstance(entries, list):
            raise _bad("'initial_state' must be a list")
        state: dict[tuple[str, str], JsonDict] = {}
        for entry in entries:
            if not isinstance(entry, dict) or not isinstance(entry.get("type"), str):
                raise _bad("initial_state entries need a string 'type'")
            state_key = entry.get("state_key", "")
            content = entry.get("content", {})
            if not isinstance(state_key, str) or not isinstance(content, dict):
                raise _bad("initial_state entries need a string state_key and object content")
            if entry["type"] in ("m.room.create", "m.room.member"):
                raise _bad(f"{entry['type']} cannot be sent in initial_state", Codes.INVALID_PARAM)
            state[(entry["type"], state_key)] = content
        return state


def _object(config: JsonDict, key: str) -> JsonDict:
    value = config.get(key, {})
    if not isinstance(value, dict):
        raise _bad(f"'{key}' must be an object")
    return value


def _random_localpart() -> str:
    return "".join(secrets.choice(_ROOM_ID_ALPHABET) for _ in range(18))
