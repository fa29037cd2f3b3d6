"""Authorization rules per room version: allowed and rejected events."""

import pytest

from synapse.api.errors import EventAuthError
from synapse.events.auth import check_auth_rules_for_event
from synapse.events.room_versions import KNOWN_ROOM_VERSIONS
from tests.events.room_builder import CREATE_ID, CREATOR, Room, make_event, standard_room

ALICE = "@alice:a.test"
BOB = "@bob:b.test"
CAROL = "@carol:c.test"
MEMBER = "m.room.member"
ALL_VERSIONS = sorted(KNOWN_ROOM_VERSIONS, key=int)


def rejected(room: Room, *args, **kwargs) -> str:
    with pytest.raises(EventAuthError) as info:
        room.check(*args, **kwargs)
    return info.value.msg


# -- create events ----------------------------------------------------------


def create_event(version: str, content: dict, **kw):
    rv = KNOWN_ROOM_VERSIONS[version]
    kw.setdefault("room_id", None if rv.room_id_from_create_event else "!room:a.test")
    return make_event(
        rv, CREATE_ID if rv.event_format.value == 1 else "$create", "m.room.create", CREATOR, content, "", **kw
    )


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_create_event_with_prev_events_is_rejected(version):
    content = {"room_version": version, "creator": CREATOR}
    check_auth_rules_for_event(create_event(version, content), {})
    with pytest.raises(EventAuthError, match="prev_events"):
        check_auth_rules_for_event(create_event(version, content, prev_ids=["$x:a.test"]), {})


def test_create_event_room_id_domain_must_match_sender_before_v12():
    event = create_event("1", {"creator": CREATOR}, room_id="!room:other.test")
    with pytest.raises(EventAuthError, match="different servers"):
        check_auth_rules_for_event(event, {})


def test_create_event_needs_creator_until_v11():
    for version in ("1", "6", "10"):
        with pytest.raises(EventAuthError, match="creator"):
            check_auth_rules_for_event(create_event(version, {"room_version": version}), {})
    check_auth_rules_for_event(create_event("11", {"room_version": "11"}), {})


def test_create_event_with_unknown_room_version_is_rejected():
    with pytest.raises(EventAuthError, match="unknown room version"):
        check_auth_rules_for_event(create_event("11", {"room_version": "99"}), {})


def test_v12_create_event_must_not_have_room_id():
    with pytest.raises(EventAuthError, match="room_id"):
        check_auth_rules_for_event(create_event("12", {"room_version": "12"}, room_id="!create"), {})


@pytest.mark.parametrize("extra", ["@bob:b.test", ["not a user"], [1], ["@bob:b.test", None]])
def test_v12_additional_creators_must_be_user_ids(extra):
    with pytest.raises(EventAuthError, match="additional_creators"):
        check_auth_rules_for_event(create_event("12", {"additional_creators": extra}), {})
    check_auth_rules_for_event(create_event("12", {"additional_creators": [BOB]}), {})


# -- room id and the create event ------------------------------------------


def test_v12_needs_the_create_event_passed_explicitly():
    room = standard_room("12", [ALICE])
    event = room.build("m.room.message", ALICE, {"body": "hi"})
    check_auth_rules_for_event(event, room.auth_map(), room.create)
    without_create = {k: v for k, v in room.auth_map().items() if k != ("m.room.create", "")}
    with pytest.raises(EventAuthError, match="no m.room.create"):
        check_auth_rules_for_event(event, without_create)


def test_v12_room_id_must_name_the_create_event():
    room = standard_room("12", [ALICE])
    event = room.build("m.room.message", ALICE, {"body": "hi"}, room_id="!other")
    with pytest.raises(EventAuthError, match="room id"):
        check_auth_rules_for_event(event, room.auth_map(), room.create)


def test_rejected_create_event_rejects_everything():
    room = standard_room("12", [ALICE])
    room.create.internal_metadata.rejected_reason = "bad"
    assert "rejected" in rejected(room, "m.room.message", ALICE, {"body": "hi"})


def test_auth_event_from_another_room_is_rejected():
    room = standard_room("10", [ALICE])
    event = room.build("m.room.message", ALICE, {"body": "hi"})
    state = room.auth_map()
    state[(MEMBER, ALICE)] = make_event(
        room.room_version, "$x", MEMBER, ALICE, {"membership": "join"}, ALICE, room_id="!elsewhere:a.test"
    )
    with pytest.raises(EventAuthError, match="another room"):
        check_auth_rules_for_event(event, state)


def test_unfederated_room_rejects_other_servers():
    room = Room("10", create_content={"m.federate": False})
    room.join(CREATOR)
    room.send("m.room.join_rules", CREATOR, {"join_rule": "public"}, "")
    room.join("@local:a.test")
    assert "not federated" in rejected(room, MEMBER, BOB, {"membership": "join"}, BOB)


# -- joins --------------------------------------------------------------------


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_creator_first_join_then_others_need_join_rules(version):
    room = Room(version)
    room.join(CREATOR)
    # no join rules event: the room is invite-only
    assert "not invited" in rejected(room, MEMBER, ALICE, {"membership": "join"}, ALICE)
    room.send("m.room.join_rules", CREATOR, {"join_rule": "public"}, "")
    room.join(ALICE)


def test_only_the_creator_gets_the_first_join():
    room = Room("11")
    assert "not invited" in rejected(room, MEMBER, ALICE, {"membership": "join"}, ALICE)


def test_cannot_join_on_behalf_of_someone_else():
    room = standard_room("10", [ALICE])
    assert "another user" in rejected(room, MEMBER, ALICE, {"membership": "join"}, BOB)


def test_invite_only_room_needs_an_invite():
    room = standard_room("10", [ALICE], join_rule="invite")
    rejected(room, MEMBER, BOB, {"membership": "join"}, BOB)
    room.send(MEMBER, ALICE, {"membership": "invite"}, BOB)
    room.join(BOB)


def test_private_join_rule_is_not_joinable():
    room = standard_room("10", [ALICE], join_rule="private")
    assert "join rule" in rejected(room, MEMBER, BOB, {"membership": "join"}, BOB)


def test_banned_user_cannot_join_public_room():
    room = standard_room("10", [ALICE])
    room.send(MEMBER, CREATOR, {"membership": "ban"}, BOB)
    assert "banned" in rejected(room, MEMBER, BOB, {"membership": "join"}, BOB)


def test_rejoin_after_leave_in_public_room():
    room = standard_room("10", [ALICE])
    room.send(MEMBER, ALICE, {"membership": "leave"}, ALICE)
    room.join(ALICE)


# -- restricted joins ---------------------------------------------------------


def restricted_room(version: str, join_rule: str = "restricted") -> Room:
    room = standard_room(version, [ALICE])
    room.send("m.room.join_rules", CREATOR, {"join_rule": join_rule, "allow": []}, "")
    return room


def via(user_id: str) -> dict:
    return {"membership": "join", "join_authorised_via_users_server": user_id}


@pytest.mark.parametrize("version", ["8", "9", "10", "11", "12"])
def test_restricted_join_needs_an_authorising_member_with_invite_power(version):
    room = restricted_room(version)
    assert "join_authorised_via_users_server" in rejected(room, MEMBER, BOB, {"membership": "join"}, BOB)
    room.check(MEMBER, BOB, via(ALICE), BOB)
    assert "not in the room" in rejected(room, MEMBER, BOB, via(CAROL), BOB)


def test_restricted_join_authoriser_without_invite_power_is_rejected():
    room = restricted_room("10")
    room.power_levels(CREATOR, {CREATOR: 100}, invite=50)
    assert "cannot invite" in rejected(room, MEMBER, BOB, via(ALICE), BOB)
    room.check(MEMBER, BOB, via(CREATOR), BOB)


def test_invited_user_joins_restricted_room_without_authoriser():
    room = restricted_room("9")
    room.send(MEMBER, ALICE, {"membership": "invite"}, BOB)
    room.join(BOB)


def test_restricted_join_rule_is_unknown_before_v8():
    room = restricted_room("7")
    rejected(room, MEMBER, BOB, via(ALICE), BOB)


def test_knock_restricted_needs_v10():
    room = restricted_room("9", "knock_restricted")
    rejected(room, MEMBER, BOB, via(ALICE), BOB)
    rejected(room, MEMBER, BOB, {"membership": "knock"}, BOB)
    room = restricted_room("10", "knock_restricted")
    room.check(MEMBER, BOB, via(ALICE), BOB)
    room.check(MEMBER, BOB, {"membership": "knock"}, BOB)


# -- knocking -----------------------------------------------------------------


def test_knock_is_an_unknown_membership_in_v6():
    room = standard_room("6", [ALICE], join_rule="knock")
    assert "unknown membership" in rejected(room, MEMBER, BOB, {"membership": "knock"}, BOB)


def test_knock_in_v7_knock_room():
    room = standard_room("7", [ALICE], join_rule="knock")
    room.send(MEMBER, BOB, {"membership": "knock"}, BOB)
    # a knock is not an invite
    rejected(room, MEMBER, BOB, {"membership": "join"}, BOB)
    # the knocker may withdraw the knock
    room.check(MEMBER, BOB, {"membership": "leave"}, BOB)
    room.send(MEMBER, ALICE, {"membership": "invite"}, BOB)
    room.join(BOB)


def test_knock_rejections():
    room = standard_room("7", [ALICE])
    assert "join rule" in rejected(room, MEMBER, BOB, {"membership": "knock"}, BOB)
    room.send("m.room.join_rules", CREATOR, {"join_rule": "knock"}, "")
    assert "another user" in rejected(room, MEMBER, ALICE, {"membership": "knock"}, BOB)
    assert "join" in rejected(room, MEMBER, ALICE, {"membership": "knock"}, ALICE)


def test_leave_from_knock_is_rejected_before_v7():
    # in v6 a knock cannot exist; a leave from no membership is rejected
    room = standard_room("6", [ALICE])
    rejected(room, MEMBER, BOB, {"membership": "leave"}, BOB)


# -- invites --------------------------------------------------------------------


def test_invite_rules():
    room = standard_room("10", [ALICE])
    room.check(MEMBER, ALICE, {"membership": "invite"}, BOB)
    assert "not in the room" in rejected(room, MEMBER, BOB, {"membership": "invite"}, CAROL)
    assert "join" in rejected(room, MEMBER, ALICE, {"membership": "invite"}, CREATOR)
    room.power_levels(CREATOR, {CREATOR: 100}, invite=50)
    assert "power to invite" in rejected(room, MEMBER, ALICE, {"membership": "invite"}, BOB)


def test_cannot_invite_banned_user():
    room = standard_room("10", [ALICE])
    room.send(MEMBER, CREATOR, {"membership": "ban"}, BOB)
    assert "ban" in rejected(room, MEMBER, CREATOR, {"membership": "invite"}, BOB)


def test_invite_can_be_rejected_by_invitee():
    room = standard_room("10", [ALICE], join_rule="invite")
    room.send(MEMBER, ALICE, {"membership": "invite"}, BOB)
    room.send(MEMBER, BOB, {"membership": "leave"}, BOB)
    assert "cannot leave" in rejected(room, MEMBER, BOB, {"membership": "leave"}, BOB)


# -- kicks and bans -------------------------------------------------------------


def test_kick_needs_kick_level_and_higher_power():
    room = standard_room("10", [ALICE, BOB, CAROL])
    room.power_levels(CREATOR, {CREATOR: 100, ALICE: 50, BOB: 50})
    room.check(MEMBER, ALICE, {"membership": "leave"}, CAROL)
    assert "kick" in rejected(room, MEMBER, ALICE, {"membership": "leave"}, BOB)
    assert "kick" in rejected(room, MEMBER, CAROL, {"membership": "leave"}, ALICE)
    assert "kick" in rejected(room, MEMBER, ALICE, {"membership": "leave"}, CREATOR)


def test_non_member_cannot_kick():
    room = standard_room("10", [ALICE])
    room.power_levels(CREATOR, {CREATOR: 100, BOB: 100})
    assert "not in the room" in rejected(room, MEMBER, BOB, {"membership": "leave"}, ALICE)


def test_ban_and_unban():
    room = standard_room("10", [ALICE, BOB])
    room.power_levels(CREATOR, {CREATOR: 100, ALICE: 50}, kick=0, ban=60)
    assert "ban" in rejected(room, MEMBER, ALICE, {"membership": "ban"}, BOB)
    room.send(MEMBER, CREATOR, {"membership": "ban"}, BOB)
    # alice may kick (level 0) but unbanning needs the ban level too
    assert "unban" in rejected(room, MEMBER, ALICE, {"membership": "leave"}, BOB)
    room.send(MEMBER, CREATOR, {"membership": "leave"}, BOB)
    room.join(BOB)


def test_ban_by_non_member_is_rejected():
    room = standard_room("10", [ALICE])
    room.power_levels(CREATOR, {CREATOR: 100, BOB: 100})
    assert "not in the room" in rejected(room, MEMBER, BOB, {"membership": "ban"}, ALICE)


def test_unknown_membership_and_missing_membership():
    room = standard_room("10", [ALICE])
    assert "unknown membership" in rejected(room, MEMBER, ALICE, {"membership": "dance"}, ALICE)
    assert "content.membership" in rejected(room, MEMBER, ALICE, {}, ALICE)


# -- ordinary events ------------------------------------------------------------


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_non_member_cannot_send(version):
    room = standard_room(version, [ALICE])
    room.check("m.room.message", ALICE, {"body": "hi"})
    assert "not in the room" in rejected(room, "m.room.message", BOB, {"body": "hi"})


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_state_needs_state_default(version):
    room = standard_room(version, [ALICE])
    assert "needs power level 50" in rejected(room, "m.room.topic", ALICE, {"topic": "x"}, "")
    room.check("m.room.topic", CREATOR, {"topic": "x"}, "")


def test_events_map_overrides_defaults():
    room = standard_room("10", [ALICE])
    room.power_levels(CREATOR, {CREATOR: 100}, events={"m.room.topic": 0, "m.custom": 20})
    room.check("m.room.topic", ALICE, {"topic": "x"}, "")
    assert "needs power level 20" in rejected(room, "m.custom", ALICE, {})


def test_without_power_levels_creator_has_100_and_others_0():
    room = Room("10")
    room.join(CREATOR)
    room.send("m.room.join_rules", CREATOR, {"join_rule": "public"}, "")
    room.join(ALICE)
    room.check("m.room.name", CREATOR, {"name": "n"}, "")
    rejected(room, "m.room.name", ALICE, {"name": "n"}, "")
    room.check("m.room.message", ALICE, {"body": "hi"})


def test_state_key_with_at_must_be_sender():
    room = standard_room("10", [ALICE])
    room.power_levels(CREATOR, {CREATOR: 100}, state_default=0)
    room.check("m.custom.state", ALICE, {}, ALICE)
    assert "'@'" in rejected(room, "m.custom.state", ALICE, {}, BOB)


def test_third_party_invite_event_needs_invite_level():
    room = standard_room("10", [ALICE])
    room.power_levels(CREATOR, {CREATOR: 100}, invite=10, state_default=0)
    assert "invite" in rejected(room, "m.room.third_party_invite", ALICE, {"display_name": "x"}, "tok")
    room.check("m.room.third_party_invite", CREATOR, {"display_name": "x"}, "tok")


# -- aliases (v1-v5) ---------------------------------------------------------------


def test_aliases_authorised_by_server_name_before_v6():
    room = standard_room("5", [ALICE])
    room.check("m.room.aliases", BOB, {"aliases": ["#x:b.test"]}, "b.test")
    assert "server" in rejected(room, "m.room.aliases", BOB, {"aliases": []}, "a.test")


def test_aliases_are_ordinary_state_from_v6():
    room = standard_room("6", [ALICE])
    assert "not in the room" in rejected(room, "m.room.aliases", BOB, {"aliases": []}, "b.test")
    assert "power level" in rejected(room, "m.room.aliases", ALICE, {"aliases": []}, "a.test")


# -- redactions ------------------------------------------------------------------


def test_v1_redaction_needs_redact_level_or_same_server():
    room = standard_room("1", [ALICE])
    other = "$other:b.test"
    assert "redact" in rejected(room, "m.room.redaction", ALICE, {}, extra={"redacts": other})
    room.check("m.room.redaction", ALICE, {}, extra={"redacts": "$mine:a.test"})
    room.check("m.room.redaction", CREATOR, {}, extra={"redacts": other})


def test_redaction_not_checked_against_redact_level_from_v3():
    room = standard_room("3", [ALICE])
    room.check("m.room.redaction", ALICE, {}, extra={"redacts": "$other"})
    room.power_levels(CREATOR, {CREATOR: 100}, events={"m.room.redaction": 50})
    rejected(room, "m.room.redaction", ALICE, {}, extra={"redacts": "$other"})
