"""Checking an event's shape before it is accepted, with the spec's errcodes.

Two layers: the *format* rules every event must meet whoever sent it
(field types, size limits from CS API "Size limits", canonical JSON from
room v6), and the *client* rules the Client-Server API applies to events a
local user creates (required content per event type). Federation code
turns the client rules off: a remote event that breaks them is still a
valid PDU and is left to the auth rules.

Errors: 413 M_TOO_LARGE for size limits, 400 M_BAD_JSON for malformed
events, 400 M_INVALID_PARAM for malformed identifiers in content.
"""

from typing import Any

from synapse.api.errors import Codes, SynapseError
from synapse.events.model import JsonDict
from synapse.events.room_versions import EventFormat, RoomVersion
from synapse.types import RoomAlias, UserID
from synapse.util.json import encode_canonical_json, find_non_canonical_number

MAX_PDU_SIZE = 65536
MAX_ID_SIZE = 255  # bytes: user, room and event ids, type, state_key

_SIZE_LIMITED_KEYS = ("event_id", "sender", "room_id", "state_key", "type")
_POWER_LEVEL_INT_KEYS = ("ban", "events_default", "invite", "kick", "redact", "state_default", "users_default")


def _bad_json(msg: str) -> SynapseError:
    return SynapseError(400, msg, Codes.BAD_JSON)


def validate_event_for_room_version(
    event_dict: JsonDict, room_version: RoomVersion, *, client_rules: bool = True
) -> None:
    """Raise SynapseError unless `event_dict` is a well-formed event for `room_version`.

    Run it on the built event (with hashes and signatures), since the size
    limit counts them. `client_rules=False` skips the per-type content rules
    (for events received over federation).
    """
    if not isinstance(event_dict, dict):
        raise _bad_json("Event must be a JSON object")
    _check_format(event_dict, room_version)
    _check_sizes(event_dict)
    if room_version.strict_canonicaljson:
        # unsigned is not signed and may be rewritten in transit: not checked
        check_canonical_json({key: value for key, value in event_dict.items() if key != "unsigned"})
    if client_rules:
        validate_client_content(event_dict, room_version)


def check_canonical_json(value: Any) -> None:
    """400 M_BAD_JSON if `value` holds a float or an integer outside canonical JSON's range."""
    path = find_non_canonical_number(value)
    if path is not None:
        raise _bad_json(f"Value at '{path}' is not an integer in the range allowed by canonical JSON")


def _check_format(event: JsonDict, room_version: RoomVersion) -> None:
    for key in ("type", "sender"):
        if not isinstance(event.get(key), str):
            raise _bad_json(f"'{key}' must be a string")
    if not isinstance(event.get("content"), dict):
        raise _bad_json("'content' must be a JSON object")
    room_id_optional = room_version.room_id_from_create_event and event["type"] == "m.room.create"
    if ("room_id" in event or not room_id_optional) and not isinstance(event.get("room_id"), str):
        raise _bad_json("'room_id' must be a string")
    if "state_key" in event and not isinstance(event["state_key"], str):
        raise _bad_json("'state_key' must be a string")
    if "redacts" in event and not isinstance(event["redacts"], str):
        raise _bad_json("'redacts' must be a string")
    for key in ("depth", "origin_server_ts"):
        if key in event and (not isinstance(event[key], int) or isinstance(event[key], bool)):
            raise _bad_json(f"'{key}' must be an integer")
    for key in ("hashes", "signatures", "unsigned"):
        if key in event and not isinstance(event[key], dict):
            raise _bad_json(f"'{key}' must be a JSON object")
    for key in ("prev_events", "auth_events"):
        if key in event and not _valid_references(event[key], room_version):
            raise _bad_json(f"'{key}' is not in the format of room version {room_version.identifier}")


def _valid_references(refs: Any, room_version: RoomVersion) -> bool:
    if not isinstance(refs, list):
        return False
    if room_version.event_format == EventFormat.V1:
        return all(
            isinstance(ref, list) and len(ref) == 2 and isinstance(ref[0], str) and isinstance(ref[1], dict)
            for ref in refs
        )
    return all(isinstance(ref, str) for ref in refs)


def _check_sizes(event: JsonDict) -> None:
    for key in _SIZE_LIMITED_KEYS:
        value = event.get(key)
        if isinstance(value, str) and len(value.encode("utf-8")) > MAX_ID_SIZE:
            raise SynapseError(413, f"'{key}' is longer than {MAX_ID_SIZE} bytes", Codes.TOO_LARGE)
    pdu = {key: value for key, value in event.items() if key != "unsigned"}
    try:
        size = len(encode_canonical_json(pdu))
    except (TypeError, ValueError) as e:  # NaN, Infinity, non-JSON types
        raise _bad_json(f"Event is not valid JSON: {e}") from e
    if size > MAX_PDU_SIZE:
        raise SynapseError(413, f"Event is larger than {MAX_PDU_SIZE} bytes", Codes.TOO_LARGE)


def validate_client_content(event_dict: JsonDict, room_version: RoomVersion) -> None:
    """The per-type rules a locally created event must meet.

    Works on a template before building (type, content, state_key and,
    before v11, a redaction's top-level `redacts`) as well as on a built event.
    """
    event_type = event_dict.get("type")
    content = event_dict.get("content")
    if not isinstance(content, dict):
        raise _bad_json("'content' must be a JSON object")
    if "state_key" in event_dict and not isinstance(event_dict["state_key"], str):
        raise _bad_json("'state_key' must be a string")
    if event_type == "m.room.member":
        if not isinstance(content.get("membership"), str):
            raise _bad_json("m.room.member content must have a string 'membership'")
    elif event_type == "m.room.name":
        _ensure_string(content, "name")
    elif event_type == "m.room.topic":
        _ensure_string(content, "topic")
    elif event_type == "m.room.power_levels":
        _check_power_levels(content)
    elif event_type == "m.room.canonical_alias":
        _check_canonical_alias(content)
    elif event_type == "m.room.redaction":
        # CS API v1.18 lets clients put it in content in every room version
        redacts = content.get("redacts")
        if not room_version.redacts_in_content and "redacts" in event_dict:
            redacts = event_dict["redacts"]
        if not isinstance(redacts, str) or not redacts.startswith("$"):
            raise _bad_json("m.room.redaction must name the redacted event id in 'redacts'")


def _ensure_string(content: JsonDict, key: str) -> None:
    if key in content and not isinstance(content[key], str):
        raise _bad_json(f"'{key}' must be a string")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_power_levels(content: JsonDict) -> None:
    """Integers only: string levels exist in old rooms but must never be created anew."""
    for key in _POWER_LEVEL_INT_KEYS:
        if key in content and not _is_int(content[key]):
            raise _bad_json(f"Power level '{key}' must be an integer")
    for key in ("events", "notifications"):
        if key in content:
            levels = content[key]
            if not isinstance(levels, dict) or not all(_is_int(v) for v in levels.values()):
                raise _bad_json(f"Power levels '{key}' must map to integers")
    if "users" in content:
        users = content["users"]
        if not isinstance(users, dict) or not all(_is_int(v) for v in users.values()):
            raise _bad_json("Power levels 'users' must map user ids to integers")
        for user_id in users:
            if not UserID.is_valid(user_id):
                raise _bad_json(f"Power levels 'users' has an invalid user id {user_id!r}")


def _check_canonical_alias(content: JsonDict) -> None:
    alias = content.get("alias")
    if alias not in (None, "") and not RoomAlias.is_valid(alias):
        raise SynapseError(400, f"Invalid alias {alias!r}", Codes.INVALID_PARAM)
    if "alt_aliases" in content:
        alt = content["alt_aliases"]
        if not isinstance(alt, list) or not all(RoomAlias.is_valid(a) for a in alt):
            raise SynapseError(400, "'alt_aliases' must be a list of room aliases", Codes.INVALID_PARAM)
