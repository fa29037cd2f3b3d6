"""Room versions 1-12 and the rule differences each one turns on.

Every versioned behaviour (event id format, redaction, auth rules, state
resolution) reads a flag from here instead of comparing version strings.
"""

from enum import Enum

import attrs


class EventFormat(Enum):
    """How an event id is produced."""

    V1 = 1  # "$localpart:server", chosen by the sender and stored in the event
    V2 = 2  # "$" + standard base64 of the reference hash (room v3)
    V3 = 3  # "$" + URL-safe base64 of the reference hash (room v4+)


class StateResolutionVersion(Enum):
    V1 = 1
    V2 = 2
    V2_1 = 3  # room v12: conflicted state starts from the create event (MSC4297)


@attrs.frozen
class RoomVersion:
    identifier: str
    event_format: EventFormat
    state_res: StateResolutionVersion
    # v5+: signing keys must be valid at the event's origin_server_ts
    enforce_key_validity: bool
    # v1-v5: m.room.aliases events are authorised by server name only
    special_case_aliases_auth: bool
    # v6+: reject integers outside [-2^53+1, 2^53-1] and floats
    strict_canonicaljson: bool
    # v6+: m.room.power_levels "notifications" key is checked when changed
    limit_notifications_power_levels: bool
    # v7+: knock membership and join rule
    knock_join_rule: bool
    # v8+: restricted join rule and join_authorised_via_users_server
    restricted_join_rule: bool
    # v9+: redaction keeps join_authorised_via_users_server in member content
    restricted_join_rule_fix: bool
    # v10+: knock_restricted join rule
    knock_restricted_join_rule: bool
    # v10+: power level values must be integers, not strings
    enforce_int_power_levels: bool
    # v11+: updated redaction algorithm (MSC2176, MSC3821, MSC3989)
    updated_redaction_rules: bool
    # v11+: create event has no "creator"; the sender is the creator (MSC2175)
    implicit_room_creator: bool
    # v11+: m.room.redaction "redacts" lives in content (MSC2174)
    redacts_in_content: bool
    # v12: room id is derived from the create event's id, the create event
    # carries no room_id, creators have infinite power (MSC4289, MSC4291)
    room_id_from_create_event: bool
    privileged_creators: bool


def _version(identifier: str, base: "RoomVersion | None" = None, **changes: object) -> RoomVersion:
    if base is None:
        return RoomVersion(identifier=identifier, **changes)  # type: ignore[arg-type]
    return attrs.evolve(base, identifier=identifier, **changes)


_V1 = _version(
    "1",
    event_format=EventFormat.V1,
    state_res=StateResolutionVersion.V1,
    enforce_key_validity=False,
    special_case_aliases_auth=True,
    strict_canonicaljson=False,
    limit_notifications_power_levels=False,
    knock_join_rule=False,
    restricted_join_rule=False,
    restricted_join_rule_fix=False,
    knock_restricted_join_rule=False,
    enforce_int_power_levels=False,
    updated_redaction_rules=False,
    implicit_room_creator=False,
    redacts_in_content=False,
    room_id_from_create_event=False,
    privileged_creators=False,
)
_V2 = _version("2", _V1, state_res=StateResolutionVersion.V2)
_V3 = _version("3", _V2, event_format=EventFormat.V2)
_V4 = _version("4", _V3, event_format=EventFormat.V3)
_V5 = _version("5", _V4, enforce_key_validity=True)
_V6 = _version(
    "6",
    _V5,
    special_case_aliases_auth=False,
    strict_canonicaljson=True,
    limit_notifications_power_levels=True,
)
_V7 = _version("7", _V6, knock_join_rule=True)
_V8 = _version("8", _V7, restricted_join_rule=True)
_V9 = _version("9", _V8, restricted_join_rule_fix=True)
_V10 = _version("10", _V9, knock_restricted_join_rule=True, enforce_int_power_levels=True)
_V11 = _version(
    "11",
    _V10,
    updated_redaction_rules=True,
    implicit_room_creator=True,
    redacts_in_content=True,
)
_V12 = _version(
    "12",
    _V11,
    state_res=StateResolutionVersion.V2_1,
    room_id_from_create_event=True,
    privileged_creators=True,
)

KNOWN_ROOM_VERSIONS: dict[str, RoomVersion] = {
    v.identifier: v for v in (_V1, _V2, _V3, _V4, _V5, _V6, _V7, _V8, _V9, _V10, _V11, _V12)
}

DEFAULT_ROOM_VERSION = "12"
