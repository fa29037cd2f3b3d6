"""Reading, validating and defaulting `m.room.power_levels`.

Power levels are read in three places: the authorization rules, state
resolution (to order events by their sender's power) and the client API
(to tell a user what they may do). All of them go through the functions
here so that every caller agrees on defaults, on the lenient number
formats of old room versions and on the infinite power of v12 creators.
"""

import math
import re
from collections.abc import Collection, Iterable, Mapping
from typing import Any, Optional

from synapse.events.model import FrozenEvent, JsonDict
from synapse.events.room_versions import RoomVersion
from synapse.types import UserID

StateKey = tuple[str, str]

CREATE_KEY: StateKey = ("m.room.create", "")
POWER_LEVELS_KEY: StateKey = ("m.room.power_levels", "")

# One more than the largest integer canonical JSON can carry, so a room
# creator in v12 outranks any level a power_levels event can express.
CREATOR_POWER_LEVEL = 2**53

# The level a room creator has in v1-v11 while the room has no
# m.room.power_levels event yet.
CREATOR_LEVEL_WITHOUT_POWER_LEVELS = 100

# Keys holding a single level, with the value assumed when a key is absent.
NAMED_LEVEL_DEFAULTS: dict[str, int] = {
    "users_default": 0,
    "events_default": 0,
    "state_default": 50,
    "ban": 50,
    "kick": 50,
    "redact": 50,
    "invite": 0,
}

_STRINGY_INT_RE = re.compile(r"^\s*[+-]?[0-9]+\s*$")


class InvalidPowerLevels(ValueError):
    """A power_levels content that the room version does not accept."""


# -- parsing --------------------------------------------------------------


def parse_power_level(value: Any, room_version: RoomVersion) -> Optional[int]:
    """A level as an int, or None if the room version cannot read it.

    Rooms before v10 accept integers written as strings, and rooms before v6
    (no canonical JSON enforcement) also floats, which are truncated.
    """
    if type(value) is int:
        return value
    if room_version.enforce_int_power_levels:
        return None
    if isinstance(value, str) and _STRINGY_INT_RE.match(value):
        return int(value.strip())
    if isinstance(value, float) and not room_version.strict_canonicaljson and math.isfinite(value):
        return int(value)
    return None


def _level(content: Mapping[str, Any], key: str, room_version: RoomVersion) -> Optional[int]:
    return parse_power_level(content[key], room_version) if key in content else None


# -- creators -------------------------------------------------------------


def room_creators(create_event: FrozenEvent) -> set[str]:
    """The users a create event names as the room's creators.

    v12 (MSC4289): the sender plus `additional_creators`. v11: the sender.
    Before v11: the `creator` content key.
    """
    room_version = create_event.room_version
    if room_version.privileged_creators:
        extra = create_event.content.get("additional_creators", [])
        creators = {create_event.sender}
        if isinstance(extra, list):
            creators.update(u for u in extra if isinstance(u, str))
        return creators
    if room_version.implicit_room_creator:
        return {create_event.sender}
    creator = create_event.content.get("creator")
    return {creator} if isinstance(creator, str) else set()


def is_room_creator(user_id: str, create_event: Optional[FrozenEvent]) -> bool:
    return create_event is not None and user_id in room_creators(create_event)


# -- reading levels -------------------------------------------------------


def get_user_power_level(
    user_id: str,
    auth_events: Mapping[StateKey, FrozenEvent],
    create_event: Optional[FrozenEvent] = None,
) -> int:
    """The power level of `user_id` given the room state in `auth_events`.

    `create_event` defaults to the create event in `auth_events`; v12 rooms
    must pass it since their events do not cite it.
    """
    create = create_event if create_event is not None else auth_events.get(CREATE_KEY)
    if create is not None and create.room_version.privileged_creators and is_room_creator(user_id, create):
        return CREATOR_POWER_LEVEL
    power_levels = auth_events.get(POWER_LEVELS_KEY)
    if power_levels is None:
        if is_room_creator(user_id, create):
            return CREATOR_LEVEL_WITHOUT_POWER_LEVELS
        return 0
    content = power_levels.content
    users = content.get("users")
    if isinstance(users, dict) and user_id in users:
        level = parse_power_level(users[user_id], power_levels.room_version)
        if level is not None:
            return level
    level = _level(content, "users_default", power_levels.room_version)
    return level if level is not None else 0


def get_named_level(auth_events: Mapping[StateKey, FrozenEvent], name: str, default: int) -> int:
    """A single level such as "ban" or "invite", `default` when unset."""
    power_levels = auth_events.get(POWER_LEVELS_KEY)
    if power_levels is None:
        return default
    level = _level(power_levels.content, name, power_levels.room_version)
    return level if level is not None else default


def get_send_level(event_type: str, state_key: Optional[str], power_levels_event: Optional[FrozenEvent]) -> int:
    """The level needed to send an event of this type (state if `state_key` is not None)."""
    content: JsonDict = power_levels_event.content if power_levels_event is not None else {}
    events = content.get("events")
    if isinstance(events, dict) and event_type in events and power_levels_event is not None:
        level = parse_power_level(events[event_type], power_levels_event.room_version)
        if level is not None:
            return level
    key = "state_default" if state_key is not None else "events_default"
    if power_levels_event is not None:
        level = _level(content, key, power_levels_event.room_version)
        if level is not None:
            return level
    return NAMED_LEVEL_DEFAULTS[key]


# -- validation -----------------------------------------------------------


def validate_power_levels_content(content: JsonDict, room_version: RoomVersion, creators: Collection[str] = ()) -> None:
    """Raise InvalidPowerLevels unless the room version accepts `content`.

    `creators` are the room's creators; in v12 they must not appear in
    `users` because their power is fixed by the create event.
    """
    if room_version.enforce_int_power_levels:
        for key in NAMED_LEVEL_DEFAULTS:
            if key in content and type(content[key]) is not int:
                raise InvalidPowerLevels(f"power level '{key}' must be an integer")
        for key in ("events", "notifications"):
            if key in content:
                _check_int_map(content[key], key, room_version)
    users = content.get("users", {})
    if not isinstance(users, dict):
        raise InvalidPowerLevels("power levels 'users' must be an object")
    for user_id, value in users.items():
        if not UserID.is_valid(user_id):
            raise InvalidPowerLevels(f"not a valid user id in power levels: {user_id!r}")
        if parse_power_level(value, room_version) is None:
            raise InvalidPowerLevels(f"not a valid power level for {user_id}: {value!r}")
    if room_version.privileged_creators:
        listed = sorted(set(users) & set(creators))
        if listed:
            raise InvalidPowerLevels(f"room creators cannot be listed in power levels users: {', '.join(listed)}")


def _check_int_map(value: Any, key: str, room_version: RoomVersion) -> None:
    if not isinstance(value, dict):
        raise InvalidPowerLevels(f"power levels '{key}' must be an object")
    for name, level in value.items():
        if parse_power_level(level, room_version) is None:
            raise InvalidPowerLevels(f"power levels '{key}.{name}' must be an integer")


# -- defaults for new rooms -----------------------------------------------

PRESET_PRIVATE_CHAT = "private_chat"
PRESET_TRUSTED_PRIVATE_CHAT = "trusted_private_chat"
PRESET_PUBLIC_CHAT = "public_chat"

_DEFAULT_EVENT_LEVELS: dict[str, int] = {
    "m.room.name": 50,
    "m.room.avatar": 50,
    "m.room.canonical_alias": 50,
    "m.room.power_levels": 100,
    "m.room.history_visibility": 100,
    "m.room.tombstone": 100,
    "m.room.server_acl": 100,
    "m.room.encryption": 100,
}


def default_power_levels_content(
    creators: Iterable[str],
    room_version: RoomVersion,
    preset: Optional[str] = None,
    invitees: Iterable[str] = (),
) -> JsonDict:
    """The m.room.power_levels content /createRoom sends before any override.

    v1-v11 list the creators at 100 (and, for `trusted_private_chat`, the
    invitees too). v12 lists nobody: creators have infinite power from the
    create event, and `trusted_private_chat` invitees are expected to be made
    additional creators by the caller. In v12 the tombstone level is 150 so
    that only creators, not level-100 admins, can upgrade the room (the spec
    asks for it to be explicitly raised). Private presets let any member
    invite.
    """
    users: dict[str, int] = {}
    if not room_version.privileged_creators:
        for user_id in creators:
            users[user_id] = 100
        if preset == PRESET_TRUSTED_PRIVATE_CHAT:
            for user_id in invitees:
                users[user_id] = 100
    events = dict(_DEFAULT_EVENT_LEVELS)
    if room_version.privileged_creators:
        events["m.room.tombstone"] = 150
    invite = 0 if preset in (PRESET_PRIVATE_CHAT, PRESET_TRUSTED_PRIVATE_CHAT) else 50
    return {
        "users": users,
        "users_default": 0,
        "events": events,
        "events_default": 0,
        "state_default": 50,
        "ban": 50,
        "kick": 50,
        "redact": 50,
        "invite": invite,
        "notifications": {"room": 50},
    }
