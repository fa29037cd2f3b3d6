"""Which auth events an event cites, checks on that list, signers, third-party invites."""

import pytest
from signedjson.key import generate_signing_key
from signedjson.sign import sign_json
from unpaddedbase64 import encode_base64

from synapse.api.errors import EventAuthError
from synapse.events.auth import auth_types_for_event, check_auth_events_selection, required_signers
from tests.events.room_builder import CREATOR, make_event, standard_room

ALICE = "@alice:a.test"
BOB = "@bob:b.test"
MEMBER = "m.room.member"
CREATE = ("m.room.create", "")
PL = ("m.room.power_levels", "")
JR = ("m.room.join_rules", "")


def test_auth_types_for_message_and_create():
    room = standard_room("11", [ALICE])
    message = room.build("m.room.message", ALICE, {})
    assert auth_types_for_event(room.room_version, message) == {CREATE, PL, (MEMBER, ALICE)}
    assert auth_types_for_event(room.room_version, room.create) == set()


def test_v12_auth_types_leave_out_create():
    room = standard_room("12", [ALICE])
    message = room.build("m.room.message", ALICE, {})
    assert auth_types_for_event(room.room_version, message) == {PL, (MEMBER, ALICE)}


def test_auth_types_for_memberships():
    room = standard_room("10", [ALICE])
    rv = room.room_version
    invite = room.build(MEMBER, ALICE, {"membership": "invite"}, BOB)
    assert auth_types_for_event(rv, invite) == {CREATE, PL, (MEMBER, ALICE), (MEMBER, BOB), JR}
    kick = room.build(MEMBER, ALICE, {"membership": "leave"}, BOB)
    assert JR not in auth_types_for_event(rv, kick)
    restricted = room.build(MEMBER, BOB, {"membership": "join", "join_authorised_via_users_server": ALICE}, BOB)
    assert auth_types_for_event(rv, restricted) == {CREATE, PL, (MEMBER, BOB), JR, (MEMBER, ALICE)}
    third_party = room.build(
        MEMBER, ALICE, {"membership": "invite", "third_party_invite": {"signed": {"token": "tok"}}}, BOB
    )
    assert ("m.room.third_party_invite", "tok") in auth_types_for_event(rv, third_party)


def test_authorising_user_is_ignored_before_v8():
    room = standard_room("7", [ALICE])
    join = room.build(MEMBER, BOB, {"membership": "join", "join_authorised_via_users_server": ALICE}, BOB)
    assert (MEMBER, ALICE) not in auth_types_for_event(room.room_version, join)


def test_selection_checks():
    room = standard_room("10", [ALICE])
    state = room.auth_map()
    message = room.build("m.room.message", ALICE, {})
    good = [state[CREATE], state[PL], state[(MEMBER, ALICE)]]
    check_auth_events_selection(message, good)
    with pytest.raises(EventAuthError, match="duplicate"):
        check_auth_events_selection(message, good + [state[PL]])
    with pytest.raises(EventAuthError, match="unexpected"):
        check_auth_events_selection(message, good + [state[JR]])
    with pytest.raises(EventAuthError, match="no m.room.create"):
        check_auth_events_selection(message, good[1:])
    rejected_pl = make_event(
        room.room_version, "$bad", "m.room.power_levels", CREATOR, {}, "", room_id=room.room_id, rejected=True
    )
    with pytest.raises(EventAuthError, match="rejected"):
        check_auth_events_selection(message, [state[CREATE], rejected_pl])
    foreign = make_event(room.room_version, "$f", "m.room.power_levels", CREATOR, {}, "", room_id="!x:a.test")
    with pytest.raises(EventAuthError, match="another room"):
        check_auth_events_selection(message, [state[CREATE], foreign])


def test_v12_selection_must_not_include_create():
    room = standard_room("12", [ALICE])
    state = room.auth_map()
    message = room.build("m.room.message", ALICE, {})
    check_auth_events_selection(message, [state[PL], state[(MEMBER, ALICE)]])
    with pytest.raises(EventAuthError, match="unexpected"):
        check_auth_events_selection(message, [room.create, state[PL]])


def test_required_signers():
    v1 = standard_room("1", [ALICE])
    event = v1.build("m.room.message", BOB, {}, event_id="$x:c.test")
    assert required_signers(event) == {"b.test", "c.test"}
    v10 = standard_room("10", [ALICE])
    join = v10.build(MEMBER, BOB, {"membership": "join", "join_authorised_via_users_server": ALICE}, BOB)
    assert required_signers(join) == {"b.test", "a.test"}


# -- third-party invites --------------------------------------------------------


class ThirdPartyRoom:
    def __init__(self) -> None:
        self.key = generate_signing_key("0")
        self.room = standard_room("10", [ALICE])
        public_key = encode_base64(self.key.verify_key.encode())
        self.room.send(
            "m.room.third_party_invite",
            ALICE,
            {"display_name": "b...", "public_keys": [{"public_key": public_key}], "key_validity_url": "https://id"},
            "tok",
        )

    def invite_content(self, mxid: str = BOB, token: str = "tok", key=None) -> dict:
        signed = sign_json({"mxid": mxid, "token": token}, "id.test", key or self.key)
        return {"membership": "invite", "third_party_invite": {"display_name": "b...", "signed": signed}}


def test_third_party_invite_with_valid_signature():
    t = ThirdPartyRoom()
    t.room.send(MEMBER, ALICE, t.invite_content(), BOB)
    t.room.join(BOB)


@pytest.mark.parametrize(
    "case,message",
    [
        ("wrong_key", "signature"),
        ("wrong_mxid", "mxid"),
        ("wrong_token", "no m.room.third_party_invite"),
        ("wrong_sender", "user who made it"),
        ("no_signed", "signed block"),
    ],
)
def test_third_party_invite_rejections(case, message):
    t = ThirdPartyRoom()
    sender, content = ALICE, t.invite_content()
    if case == "wrong_key":
        content = t.invite_content(key=generate_signing_key("0"))
    elif case == "wrong_mxid":
        content = t.invite_content(mxid="@eve:b.test")
    elif case == "wrong_token":
        content = t.invite_content(token="other")
    elif case == "wrong_sender":
        sender = CREATOR
    elif case == "no_signed":
        content = {"membership": "invite", "third_party_invite": {}}
    with pytest.raises(EventAuthError, match=message):
        t.room.check(MEMBER, sender, content, BOB)


def test_third_party_invite_of_banned_user_is_rejected():
    t = ThirdPartyRoom()
    t.room.send(MEMBER, CREATOR, {"membership": "ban"}, BOB)
    with pytest.raises(EventAuthError, match="banned"):
        t.room.check(MEMBER, ALICE, t.invite_content(), BOB)


def test_third_party_invite_single_public_key_field():
    t = ThirdPartyRoom()
    room = t.room
    room.send(
        "m.room.third_party_invite",
        ALICE,
        {"display_name": "x", "public_key": encode_base64(t.key.verify_key.encode())},
        "tok2",
    )
    room.check(MEMBER, ALICE, t.invite_content(token="tok2"), BOB)
