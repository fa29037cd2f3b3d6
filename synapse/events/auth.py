"""The room authorization rules: may this event be part of the room?

The rules differ per room version (see synapse/events/room_versions.py for
the flags read here) and are checked in two parts:

* `check_auth_events_selection` looks at the event's own `auth_events`
  list: no duplicates, only the expected (type, state_key) pairs, nothing
  rejected, everything from this room. It needs the list as sent, so it is
  separate.
* `check_auth_rules_for_event` runs the state-dependent rules against a map
  of (type, state_key) -> event: either the event's auth events, or the
  room state before it, or the partial state of a state resolution.

Signatures are verified by the federation code; `required_signers` tells
it which servers must have signed. The one signature the rules inspect
themselves is the third-party invite's `signed` block.

Room version 12 events do not cite the create event (their room id names
it), so callers pass it as `create_event`; for older versions it is taken
from the auth events.
"""

from collections.abc import Iterable, Mapping
from typing import Any, Optional

from signedjson.key import decode_verify_key_bytes
from signedjson.sign import SignatureVerifyException, verify_signed_json
from unpaddedbase64 import decode_base64

from synapse.api.errors import EventAuthError
from synapse.events.model import FrozenEvent
from synapse.events.power_levels import (
    CREATE_KEY,
    CREATOR_POWER_LEVEL,
    POWER_LEVELS_KEY,
    InvalidPowerLevels,
    StateKey,
    get_named_level,
    get_send_level,
    get_user_power_level,
    is_room_creator,
    parse_power_level,
    room_creators,
    validate_power_levels_content,
)
from synapse.events.room_versions import KNOWN_ROOM_VERSIONS, EventFormat, RoomVersion
from synapse.types import UserID

__all__ = [
    "CREATOR_POWER_LEVEL",
    "StateKey",
    "auth_types_for_event",
    "check_auth_events_selection",
    "check_auth_rules_for_event",
    "get_named_level",
    "get_send_level",
    "get_user_power_level",
    "is_room_creator",
    "required_signers",
]

MEMBER = "m.room.member"
JOIN_RULES_KEY: StateKey = ("m.room.join_rules", "")
THIRD_PARTY_INVITE = "m.room.third_party_invite"
AUTHORISING_USER = "join_authorised_via_users_server"

JOIN, INVITE, LEAVE, BAN, KNOCK = "join", "invite", "leave", "ban", "knock"


def _domain(identifier: str) -> str:
    return identifier.split(":", 1)[1] if ":" in identifier else ""


def _is_restricted_join(room_version: RoomVersion, event: FrozenEvent) -> bool:
    return (
        room_version.restricted_join_rule
        and event.membership == JOIN
        and isinstance(event.content.get(AUTHORISING_USER), str)
    )


# -- auth events selection ------------------------------------------------


def auth_types_for_event(room_version: RoomVersion, event: FrozenEvent) -> set[StateKey]:
    """The (type, state_key) pairs an event's auth_events should be drawn from.

    Per the server-server API's auth events selection; v12 leaves out the
    create event because the room id already names it.
    """
    if event.type == "m.room.create":
        return set()
    keys: set[StateKey] = {POWER_LEVELS_KEY, (MEMBER, event.sender)}
    if not room_version.room_id_from_create_event:
        keys.add(CREATE_KEY)
    if event.type == MEMBER and isinstance(event.state_key, str):
        membership = event.membership
        keys.add((MEMBER, event.state_key))
        if membership in (JOIN, INVITE, KNOCK):
            keys.add(JOIN_RULES_KEY)
        if membership == INVITE:
            token = _third_party_invite_token(event.content)
            if token is not None:
                keys.add((THIRD_PARTY_INVITE, token))
        if _is_restricted_join(room_version, event):
            keys.add((MEMBER, event.content[AUTHORISING_USER]))
    return keys


def _third_party_invite_token(content: Mapping[str, Any]) -> Optional[str]:
    invite = content.get("third_party_invite")
    if not isinstance(invite, dict):
        return None
    signed = invite.get("signed")
    if not isinstance(signed, dict):
        return None
    token = signed.get("token")
    return token if isinstance(token, str) else None


def check_auth_events_selection(event: FrozenEvent, auth_events: Iterable[FrozenEvent]) -> None:
    """The rules about the event's own `auth_events` list (fetched events, in any order)."""
    if event.type == "m.room.create":
        return
    room_version = event.room_version
    expected = auth_types_for_event(room_version, event)
    seen: set[StateKey] = set()
    for auth_event in auth_events:
        key = (auth_event.type, auth_event.state_key or "")
        if auth_event.state_key is None:
            raise EventAuthError(f"auth event {auth_event.event_id} is not a state event")
        if key in seen:
            raise EventAuthError(f"duplicate auth event for {key}")
        seen.add(key)
        if key not in expected:
            raise EventAuthError(f"unexpected auth event for {key}")
        if auth_event.internal_metadata.rejected_reason is not None:
            raise EventAuthError(f"auth event {auth_event.event_id} was rejected")
        if auth_event.room_id != event.room_id:
            raise EventAuthError(f"auth event {auth_event.event_id} is from another room")
    if not room_version.room_id_from_create_event and CREATE_KEY not in seen:
        raise EventAuthError("no m.room.create event in auth events")


def required_signers(event: FrozenEvent) -> set[str]:
    """Servers whose signatures the event must carry to be authorised.

    Always the sender's server; in v1/v2 also the server in the event id; for
    a restricted join also the server of the user who authorised it.
    """
    servers = {_domain(event.sender)}
    if event.room_version.event_format == EventFormat.V1:
        servers.add(_domain(event.event_id))
    if event.type == MEMBER and _is_restricted_join(event.room_version, event):
        servers.add(_domain(event.content[AUTHORISING_USER]))
    return servers


# -- the rules ------------------------------------------------------------


def check_auth_rules_for_event(
    event: FrozenEvent,
    auth_events: Mapping[StateKey, FrozenEvent],
    create_event: Optional[FrozenEvent] = None,
) -> None:
    """Raise EventAuthError unless the room version's rules allow `event`.

    `auth_events` maps (type, state_key) to the events the rules consult; a
    superset (such as the whole room state) is fine. `create_event` is
    required for v12 and defaults to the create event in `auth_events`.
    """
    room_version = event.room_version
    if event.type == "m.room.create":
        _check_create(event)
        return

    create = create_event if create_event is not None else auth_events.get(CREATE_KEY)
    if create is None:
        raise EventAuthError("no m.room.create event for the room")
    if create.internal_metadata.rejected_reason is not None:
        raise EventAuthError("the room's m.room.create event was rejected")
    if room_version.room_id_from_create_event:
        if event.room_id != "!" + create.event_id[1:]:
            raise EventAuthError("room id does not name the room's create event")
    elif create.room_id != event.room_id:
        raise EventAuthError("m.room.create event is from another room")
    for key in auth_types_for_event(room_version, event):
        auth_event = auth_events.get(key)
        if auth_event is not None and auth_event.room_id != event.room_id:
            raise EventAuthError(f"auth event for {key} is from another room")

    if create.content.get("m.federate", True) is False and _domain(event.sender) != _domain(create.sender):
        raise EventAuthError("this room is not federated and the sender is from another server")

    if room_version.special_case_aliases_auth and event.type == "m.room.aliases":
        if event.state_key is None:
            raise EventAuthError("m.room.aliases event has no state_key")
        if event.state_key != _domain(event.sender):
            raise EventAuthError("m.room.aliases state_key must be the sender's server")
        return

    if event.type == MEMBER:
        _check_membership(event, auth_events, create)
        return

    sender_level = get_user_power_level(event.sender, auth_events, create)
    if _membership(auth_events, event.sender) != JOIN:
        raise EventAuthError(f"{event.sender} is not in the room")

    if event.type == THIRD_PARTY_INVITE:
        if sender_level < get_named_level(auth_events, "invite", 0):
            raise EventAuthError(f"{event.sender} does not have power to invite")
        return

    required = get_send_level(event.type, event.state_key, auth_events.get(POWER_LEVELS_KEY))
    if required > sender_level:
        raise EventAuthError(f"{event.sender} needs power level {required} to send {event.type}, has {sender_level}")

    if event.state_key is not None and event.state_key.startswith("@") and event.state_key != event.sender:
        raise EventAuthError("state_key starting with '@' must be the sender's user id")

    if (event.type, event.state_key) == POWER_LEVELS_KEY:
        _check_power_levels(event, auth_events, create, sender_level)
        return

    if event.type == "m.room.redaction" and room_version.event_format == EventFormat.V1:
        _check_v1_redaction(event, auth_events, sender_level)


def _check_create(event: FrozenEvent) -> None:
    room_version = event.room_version
    if event.prev_event_ids():
        raise EventAuthError("m.room.create event must not have prev_events")
    if room_version.room_id_from_create_event:
        if event.get("room_id") is not None:
            raise EventAuthError("m.room.create event must not have a room_id in this room version")
    elif _domain(event.room_id or "") != _domain(event.sender):
        raise EventAuthError("m.room.create room id and sender are from different servers")
    version = event.content.get("room_version", "1")
    if not isinstance(version, str) or version not in KNOWN_ROOM_VERSIONS:
        raise EventAuthError(f"unknown room version {version!r}")
    if room_version.privileged_creators and "additional_creators" in event.content:
        extra = event.content["additional_creators"]
        if not isinstance(extra, list) or not all(isinstance(u, str) and UserID.is_valid(u) for u in extra):
            raise EventAuthError("additional_creators must be a list of user ids")
    if not room_version.implicit_room_creator and "creator" not in event.content:
        raise EventAuthError("m.room.create event has no creator")


def _membership(auth_events: Mapping[StateKey, FrozenEvent], user_id: str) -> Optional[str]:
    member = auth_events.get((MEMBER, user_id))
    return member.membership if member is not None else None


def _check_membership(event: FrozenEvent, auth_events: Mapping[StateKey, FrozenEvent], create: FrozenEvent) -> None:
    room_version = event.room_version
    target = event.state_key
    membership = event.content.get("membership")
    if target is None or not isinstance(membership, str):
        raise EventAuthError("membership event needs a state_key and content.membership")

    sender_membership = _membership(auth_events, event.sender)
    target_membership = _membership(auth_events, target)
    join_rules = auth_events.get(JOIN_RULES_KEY)
    join_rule = join_rules.content.get("join_rule", INVITE) if join_rules is not None else INVITE

    def level(user_id: str) -> int:
        return get_user_power_level(user_id, auth_events, create)

    if membership == JOIN:
        prev = event.prev_event_ids()
        first_creator = create.sender if room_version.implicit_room_creator else create.content.get("creator")
        if len(prev) == 1 and prev[0] == create.event_id and target == first_creator:
            return
        if event.sender != target:
            raise EventAuthError("cannot make another user join")
        if target_membership == BAN:
            raise EventAuthError(f"{target} is banned from the room")
        if join_rule == INVITE or (join_rule == KNOCK and room_version.knock_join_rule):
            if target_membership not in (INVITE, JOIN):
                raise EventAuthError(f"{target} is not invited to this room")
            return
        if (join_rule == "restricted" and room_version.restricted_join_rule) or (
            join_rule == "knock_restricted" and room_version.knock_restricted_join_rule
        ):
            if target_membership in (INVITE, JOIN):
                return
            authoriser = event.content.get(AUTHORISING_USER)
            if not isinstance(authoriser, str):
                raise EventAuthError("restricted join needs join_authorised_via_users_server")
            if _membership(auth_events, authoriser) != JOIN:
                raise EventAuthError(f"authorising user {authoriser} is not in the room")
            if level(authoriser) < get_named_level(auth_events, "invite", 0):
                raise EventAuthError(f"authorising user {authoriser} cannot invite")
            return
        if join_rule == "public":
            return
        raise EventAuthError(f"cannot join a room with join rule {join_rule!r}")

    if membership == INVITE:
        if "third_party_invite" in event.content:
            _check_third_party_invite(event, auth_events, target_membership)
            return
        if sender_membership != JOIN:
            raise EventAuthError(f"{event.sender} is not in the room")
        if target_membership in (JOIN, BAN):
            raise EventAuthError(f"{target} is {target_membership} and cannot be invited")
        if level(event.sender) < get_named_level(auth_events, "invite", 0):
            raise EventAuthError(f"{event.sender} does not have power to invite")
        return

    if membership == LEAVE:
        if event.sender == target:
            may_leave_from = (INVITE, JOIN, KNOCK) if room_version.knock_join_rule else (INVITE, JOIN)
            if target_membership not in may_leave_from:
                raise EventAuthError(f"{target} cannot leave from membership {target_membership!r}")
            return
        if sender_membership != JOIN:
            raise EventAuthError(f"{event.sender} is not in the room")
        sender_level = level(event.sender)
        if target_membership == BAN and sender_level < get_named_level(auth_events, "ban", 50):
            raise EventAuthError(f"{event.sender} does not have power to unban")
        if sender_level >= get_named_level(auth_events, "kick", 50) and level(target) < sender_level:
            return
        raise EventAuthError(f"{event.sender} does not have power to kick {target}")

    if membership == BAN:
        if sender_membership != JOIN:
            raise EventAuthError(f"{event.sender} is not in the room")
        sender_level = level(event.sender)
        if sender_level >= get_named_level(auth_events, "ban", 50) and level(target) < sender_level:
            return
        raise EventAuthError(f"{event.sender} does not have power to ban {target}")

    if membership == KNOCK and room_version.knock_join_rule:
        knockable = join_rule == KNOCK or (join_rule == "knock_restricted" and room_version.knock_restricted_join_rule)
        if not knockable:
            raise EventAuthError(f"cannot knock on a room with join rule {join_rule!r}")
        if event.sender != target:
            raise EventAuthError("cannot knock on behalf of another user")
        if sender_membership in (BAN, INVITE, JOIN):
            raise EventAuthError(f"{target} cannot knock while {sender_membership}")
        return

    raise EventAuthError(f"unknown membership {membership!r}")


def _check_third_party_invite(
    event: FrozenEvent, auth_events: Mapping[StateKey, FrozenEvent], target_membership: Optional[str]
) -> None:
    if target_membership == BAN:
        raise EventAuthError(f"{event.state_key} is banned from the room")
    invite = event.content["third_party_invite"]
    signed = invite.get("signed") if isinstance(invite, dict) else None
    if not isinstance(signed, dict):
        raise EventAuthError("third_party_invite has no signed block")
    mxid, token = signed.get("mxid"), signed.get("token")
    if not isinstance(mxid, str) or not isinstance(token, str):
        raise EventAuthError("third_party_invite signed block needs mxid and token")
    if mxid != event.state_key:
        raise EventAuthError("third_party_invite mxid does not match the invited user")
    invite_event = auth_events.get((THIRD_PARTY_INVITE, token))
    if invite_event is None:
        raise EventAuthError("no m.room.third_party_invite event for this token")
    if invite_event.sender != event.sender:
        raise EventAuthError("third party invite must be completed by the user who made it")
    if not _signed_by_any(signed, _third_party_public_keys(invite_event.content)):
        raise EventAuthError("third_party_invite signature does not match the invite's public keys")


def _third_party_public_keys(content: Mapping[str, Any]) -> list[str]:
    keys = []
    if isinstance(content.get("public_key"), str):
        keys.append(content["public_key"])
    for entry in content.get("public_keys", []) if isinstance(content.get("public_keys"), list) else []:
        if isinstance(entry, dict) and isinstance(entry.get("public_key"), str):
            keys.append(entry["public_key"])
    return keys


def _signed_by_any(signed: dict, public_keys: list[str]) -> bool:
    """Whether any ed25519 signature in `signed` verifies with one of the keys."""
    signatures = signed.get("signatures")
    if not isinstance(signatures, dict):
        return False
    for server, server_sigs in signatures.items():
        if not isinstance(server_sigs, dict):
            continue
        for key_id in server_sigs:
            if not isinstance(key_id, str) or not key_id.startswith("ed25519:"):
                continue
            for public_key in public_keys:
                try:
                    verify_key = decode_verify_key_bytes(key_id, decode_base64(public_key))
                    verify_signed_json(signed, server, verify_key)
                    return True
                except (SignatureVerifyException, ValueError, TypeError):
                    continue
    return False


def _check_power_levels(
    event: FrozenEvent, auth_events: Mapping[StateKey, FrozenEvent], create: FrozenEvent, sender_level: int
) -> None:
    room_version = event.room_version
    new = event.content
    try:
        validate_power_levels_content(new, room_version, room_creators(create))
    except InvalidPowerLevels as e:
        raise EventAuthError(str(e)) from e
    current_event = auth_events.get(POWER_LEVELS_KEY)
    if current_event is None:
        return
    old = current_event.content

    def parsed(content: Mapping[str, Any], key: str) -> Optional[int]:
        return parse_power_level(content[key], room_version) if key in content else None

    for key in ("users_default", "events_default", "state_default", "ban", "redact", "kick", "invite"):
        old_level, new_level = parsed(old, key), parsed(new, key)
        if old_level == new_level:
            continue
        if old_level is not None and old_level > sender_level:
            raise EventAuthError(f"cannot change '{key}' from {old_level}: above your power level")
        if new_level is not None and new_level > sender_level:
            raise EventAuthError(f"cannot set '{key}' to {new_level}: above your power level")

    maps = ["events", "notifications"] if room_version.limit_notifications_power_levels else ["events"]
    for map_key in maps:
        old_map, new_map = _as_dict(old.get(map_key)), _as_dict(new.get(map_key))
        for name in set(old_map) | set(new_map):
            old_level, new_level = parsed(old_map, name), parsed(new_map, name)
            if old_level == new_level:
                continue
            if old_level is not None and old_level > sender_level:
                raise EventAuthError(f"cannot change {map_key} level of {name}: above your power level")
            if new_level is not None and new_level > sender_level:
                raise EventAuthError(f"cannot set {map_key} level of {name} above your power level")

    old_users, new_users = _as_dict(old.get("users")), _as_dict(new.get("users"))
    for user_id in set(old_users) | set(new_users):
        old_level, new_level = parsed(old_users, user_id), parsed(new_users, user_id)
        if old_level == new_level:
            continue
        if user_id != event.sender and old_level is not None and old_level >= sender_level:
            raise EventAuthError(f"cannot change the power level of {user_id}: not below yours")
        if new_level is not None and new_level > sender_level:
            raise EventAuthError(f"cannot give {user_id} a power level above yours")


def _as_dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _check_v1_redaction(event: FrozenEvent, auth_events: Mapping[StateKey, FrozenEvent], sender_level: int) -> None:
    """Room v1/v2: redact others' events only with the redact level or from the same server."""
    if sender_level >= get_named_level(auth_events, "redact", 50):
        return
    redacts = event.redacts
    if isinstance(redacts, str) and _domain(redacts) == _domain(event.event_id):
        return
    raise EventAuthError(f"{event.sender} does not have power to redact")
