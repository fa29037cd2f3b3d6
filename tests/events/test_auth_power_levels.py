"""Power levels: changes under the auth rules, v10 integers, v12 creators, helpers."""

import pytest

from synapse.api.errors import EventAuthError
from synapse.events.auth import (
    CREATOR_POWER_LEVEL,
    get_named_level,
    get_send_level,
    get_user_power_level,
    is_room_creator,
)
from synapse.events.power_levels import (
    InvalidPowerLevels,
    default_power_levels_content,
    parse_power_level,
    validate_power_levels_content,
)
from synapse.events.room_versions import KNOWN_ROOM_VERSIONS
from tests.events.room_builder import CREATOR, Room, standard_room

ALICE = "@alice:a.test"
BOB = "@bob:b.test"
CAROL = "@carol:c.test"
PL = "m.room.power_levels"


def rejected(room: Room, *args, **kwargs) -> str:
    with pytest.raises(EventAuthError) as info:
        room.check(*args, **kwargs)
    return info.value.msg


def mod_room(version: str = "10") -> Room:
    """Creator at 100, alice a moderator at 50, bob and carol at 0."""
    room = standard_room(version, [ALICE, BOB, CAROL])
    users = {ALICE: 50} if room.room_version.privileged_creators else {CREATOR: 100, ALICE: 50}
    room.power_levels(CREATOR, users)
    return room


def pl(room: Room, users: dict, **others) -> dict:
    base = {} if room.room_version.privileged_creators else {CREATOR: 100}
    return {"users": {**base, **users}, **others}


# -- changing power levels ---------------------------------------------------


def test_needs_power_levels_send_level():
    room = mod_room()
    assert "needs power level 50" in rejected(room, PL, BOB, pl(room, {ALICE: 50}), "")


def test_cannot_raise_anyone_above_own_level():
    room = mod_room()
    room.power_levels(CREATOR, pl(room, {ALICE: 50})["users"], events={PL: 50})
    room.check(PL, ALICE, pl(room, {ALICE: 50, BOB: 50}, events={PL: 50}), "")
    assert "above yours" in rejected(room, PL, ALICE, pl(room, {ALICE: 50, BOB: 51}, events={PL: 50}), "")
    assert "above yours" in rejected(room, PL, ALICE, pl(room, {ALICE: 60}, events={PL: 50}), "")


def test_cannot_change_peers_but_may_demote_self():
    room = mod_room()
    room.power_levels(CREATOR, pl(room, {ALICE: 50, BOB: 50})["users"], events={PL: 50})
    assert "not below yours" in rejected(room, PL, ALICE, pl(room, {ALICE: 50, BOB: 0}, events={PL: 50}), "")
    assert "not below yours" in rejected(room, PL, ALICE, pl(room, {ALICE: 50}, events={PL: 50}), "")
    room.check(PL, ALICE, pl(room, {ALICE: 10, BOB: 50}, events={PL: 50}), "")


def test_named_levels_and_event_levels_bounded_by_sender():
    room = mod_room()
    room.power_levels(CREATOR, pl(room, {ALICE: 50})["users"], events={PL: 50, "m.room.name": 75})
    base = dict(events={PL: 50, "m.room.name": 75})
    assert "'ban'" in rejected(room, PL, ALICE, pl(room, {ALICE: 50}, ban=60, **base), "")
    room.check(PL, ALICE, pl(room, {ALICE: 50}, ban=40, **base), "")
    # the current value is above alice: she may not touch it
    assert "m.room.name" in rejected(room, PL, ALICE, pl(room, {ALICE: 50}, events={PL: 50}), "")
    assert "m.custom" in rejected(
        room, PL, ALICE, pl(room, {ALICE: 50}, events={PL: 50, "m.room.name": 75, "m.custom": 51}), ""
    )
    # removing a level set above alice is a change too
    room.power_levels(CREATOR, pl(room, {ALICE: 50})["users"], kick=60, **base)
    assert "'kick'" in rejected(room, PL, ALICE, pl(room, {ALICE: 50}, **base), "")


def test_notifications_checked_from_v6_only():
    for version, checked in (("5", False), ("6", True)):
        room = mod_room(version)
        room.power_levels(CREATOR, pl(room, {ALICE: 50})["users"], events={PL: 50})
        content = pl(room, {ALICE: 50}, events={PL: 50}, notifications={"room": 90})
        if checked:
            assert "notifications" in rejected(room, PL, ALICE, content, "")
        else:
            room.check(PL, ALICE, content, "")


def test_first_power_levels_event_is_allowed_unchecked():
    room = Room("10")
    room.join(CREATOR)
    room.check(PL, CREATOR, {"users": {CREATOR: 100, ALICE: 1000}, "ban": 1000}, "")


@pytest.mark.parametrize("bad_users", [{"not-a-user": 10}, {ALICE: "lots"}, {ALICE: None}])
def test_users_must_be_user_ids_with_levels(bad_users):
    room = mod_room("1")
    rejected(room, PL, CREATOR, {"users": {CREATOR: 100, **bad_users}}, "")


def test_stringy_power_levels_before_v10_only():
    room = mod_room("9")
    room.send(PL, CREATOR, {"users": {CREATOR: "100", ALICE: " +50 "}, "ban": "50"}, "")
    assert get_user_power_level(ALICE, room.auth_map()) == 50
    room = mod_room("10")
    assert "not a valid power level" in rejected(room, PL, CREATOR, {"users": {CREATOR: "100"}}, "")
    assert "'ban'" in rejected(room, PL, CREATOR, {"users": {CREATOR: 100}, "ban": "50"}, "")
    assert "events" in rejected(room, PL, CREATOR, {"users": {CREATOR: 100}, "events": {"m.x": "5"}}, "")
    assert "integer" in rejected(room, PL, CREATOR, {"users": {CREATOR: 100}, "kick": True}, "")


def test_parse_power_level_formats():
    v1, v6, v10 = (KNOWN_ROOM_VERSIONS[v] for v in ("1", "6", "10"))
    assert parse_power_level(" -007 ", v1) == -7
    assert parse_power_level(50.9, v1) == 50
    assert parse_power_level(50.9, v6) is None
    assert parse_power_level(float("inf"), v1) is None
    assert parse_power_level("5.5", v1) is None
    assert parse_power_level("50", v10) is None
    assert parse_power_level(True, v10) is None


# -- v12 creators ----------------------------------------------------------------


def test_v12_creator_has_infinite_power_and_cannot_be_listed():
    room = mod_room("12")
    auth = room.auth_map()
    assert get_user_power_level(CREATOR, auth, room.create) == CREATOR_POWER_LEVEL
    assert "creators" in rejected(room, PL, CREATOR, {"users": {CREATOR: 100}}, "")
    # an admin at the highest listable level still cannot kick the creator
    room.power_levels(CREATOR, {ALICE: 2**53 - 1})
    assert "kick" in rejected(room, "m.room.member", ALICE, {"membership": "leave"}, CREATOR)
    room.check("m.room.member", CREATOR, {"membership": "ban"}, ALICE)


def test_v12_additional_creators_are_creators():
    room = Room("12", create_content={"additional_creators": [ALICE]})
    room.join(CREATOR)
    room.send("m.room.join_rules", CREATOR, {"join_rule": "public"}, "")
    room.join(ALICE)
    room.join(BOB)
    assert is_room_creator(ALICE, room.create)
    assert get_user_power_level(ALICE, room.auth_map(), room.create) == CREATOR_POWER_LEVEL
    assert "creators" in rejected(room, PL, CREATOR, {"users": {ALICE: 50}}, "")
    room.power_levels(CREATOR, {BOB: 100})
    room.check("m.room.member", ALICE, {"membership": "ban"}, BOB)
    assert "ban" in rejected(room, "m.room.member", BOB, {"membership": "ban"}, ALICE)
    # only the create event's sender gets the first join
    assert not is_room_creator(BOB, room.create)


def test_v11_creator_is_an_ordinary_admin():
    room = mod_room("11")
    assert get_user_power_level(CREATOR, room.auth_map()) == 100
    room.check(PL, CREATOR, {"users": {CREATOR: 100, ALICE: 100}}, "")
    room.power_levels(CREATOR, {CREATOR: 100, ALICE: 100})
    assert "kick" in rejected(room, "m.room.member", ALICE, {"membership": "leave"}, CREATOR)


# -- helpers ----------------------------------------------------------------------


def test_levels_without_power_levels_event():
    room = Room("10")
    room.join(CREATOR)
    auth = room.auth_map()
    assert get_user_power_level(CREATOR, auth) == 100
    assert get_user_power_level(ALICE, auth) == 0
    assert get_named_level(auth, "ban", 50) == 50
    assert get_send_level("m.room.topic", "", None) == 50
    assert get_send_level("m.room.message", None, None) == 0


def test_levels_from_power_levels_event():
    room = mod_room()
    room.power_levels(CREATOR, {CREATOR: 100}, users_default=5, events_default=7, state_default=9, kick=3)
    auth = room.auth_map()
    power_levels = auth[(PL, "")]
    assert get_user_power_level(BOB, auth) == 5
    assert get_named_level(auth, "kick", 50) == 3
    assert get_named_level(auth, "redact", 50) == 50
    assert get_send_level("m.room.message", None, power_levels) == 7
    assert get_send_level("m.room.topic", "", power_levels) == 9


def test_default_power_levels_content_per_version():
    v11, v12 = KNOWN_ROOM_VERSIONS["11"], KNOWN_ROOM_VERSIONS["12"]
    content = default_power_levels_content([CREATOR], v11, "public_chat")
    assert content["users"] == {CREATOR: 100}
    assert content["invite"] == 50 and content["state_default"] == 50 and content["events_default"] == 0
    trusted = default_power_levels_content([CREATOR], v11, "trusted_private_chat", [ALICE])
    assert trusted["users"] == {CREATOR: 100, ALICE: 100} and trusted["invite"] == 0
    content = default_power_levels_content([CREATOR, ALICE], v12, "trusted_private_chat", [BOB])
    assert content["users"] == {}
    assert content["events"]["m.room.tombstone"] == 150
    validate_power_levels_content(content, v12, [CREATOR, ALICE])


def test_validate_power_levels_content():
    v10 = KNOWN_ROOM_VERSIONS["10"]
    validate_power_levels_content({"users": {ALICE: 5}, "events": {"m.x": 1}}, v10)
    with pytest.raises(InvalidPowerLevels):
        validate_power_levels_content({"users": []}, v10)
    with pytest.raises(InvalidPowerLevels):
        validate_power_levels_content({"notifications": {"room": "50"}}, v10)
