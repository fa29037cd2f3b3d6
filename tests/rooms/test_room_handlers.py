"""Room creation, membership, sending and their failures, through the handlers."""

import pytest

from synapse.api.errors import LimitExceededError, NotFoundError, SynapseError
from synapse.types import Requester, UserID
from tests.rooms.server import Limit, make_config, make_homeserver, requester, user
from tests.support.twisted import run

ALICE, BOB, CAROL = user("alice"), user("bob"), user("carol")


def _errcode(fn, *args, **kwargs):
    with pytest.raises(SynapseError) as e:
        run(fn(*args, **kwargs))
    return e.value.code, e.value.errcode


@pytest.fixture
def hs(db_pool):
    return run(make_homeserver(db_pool))


def create(hs, **config):
    return run(hs.room_creation_handler.create_room(requester("alice"), config))[0]


def member(hs, who, target, room_id, action, **kwargs):
    return run(hs.room_member_handler.update_membership(requester(who), target, room_id, action, **kwargs))


def send(hs, who, room_id, event_type="m.room.message", content=None, txn_id=None, **extra):
    event = {"type": event_type, "room_id": room_id, "content": content or {"msgtype": "m.text", "body": "x"}, **extra}
    return run(hs.event_creation_handler.create_and_send_event(requester(who), event, txn_id=txn_id))


def state(hs, room_id):
    events = run(hs.stores.state.get_current_state(room_id))
    return {key: e.content for key, e in events.items()}


@pytest.mark.parametrize("version", ["1", "10", "11", "12"])
@pytest.mark.parametrize("preset", ["private_chat", "trusted_private_chat", "public_chat"])
def test_create_room_presets_and_versions(hs, version, preset):
    room_id = create(hs, preset=preset, room_version=version, name="Room", topic="About", invite=[BOB])
    current = state(hs, room_id)
    create_content = current[("m.room.create", "")]
    assert create_content["room_version"] == version
    assert ("creator" in create_content) == (version in ("1", "10"))
    if version == "12":
        create_event = run(hs.stores.state.get_current_state_event(room_id, "m.room.create"))
        assert room_id == "!" + create_event.event_id[1:]
        assert create_event.get("room_id") is None
    join_rule = current[("m.room.join_rules", "")]["join_rule"]
    assert join_rule == ("public" if preset == "public_chat" else "invite")
    assert current[("m.room.history_visibility", "")] == {"history_visibility": "shared"}
    assert (("m.room.guest_access", "") in current) == (preset != "public_chat")
    assert current[("m.room.name", "")] == {"name": "Room"}
    assert current[("m.room.topic", "")] == {"topic": "About"}
    assert current[("m.room.member", ALICE)]["membership"] == "join"
    assert current[("m.room.member", BOB)]["membership"] == "invite"
    levels = current[("m.room.power_levels", "")]
    if version == "12":
        assert ALICE not in levels["users"]
        assert (create_content.get("additional_creators") == [BOB]) == (preset == "trusted_private_chat")
    else:
        assert levels["users"][ALICE] == 100
        assert (levels["users"].get(BOB) == 100) == (preset == "trusted_private_chat")


def test_create_room_events_in_spec_order(hs):
    room_id = create(
        hs,
        preset="public_chat",
        room_alias_name="ordered",
        name="N",
        topic="T",
        initial_state=[{"type": "m.room.encryption", "content": {"algorithm": "m.megolm.v1.aes-sha2"}}],
    )
    rows = run(hs.db.execute("order", "SELECT type FROM events WHERE room_id = ? ORDER BY stream_ordering", room_id))
    assert [r[0] for r in rows] == [
        "m.room.create",
        "m.room.member",
        "m.room.power_levels",
        "m.room.canonical_alias",
        "m.room.join_rules",
        "m.room.history_visibility",
        "m.room.encryption",
        "m.room.name",
        "m.room.topic",
    ]


def test_create_room_options(hs):
    room_id = create(
        hs,
        visibility="public",
        room_alias_name="pub",
        creation_content={"m.federate": False},
        power_level_content_override={"events_default": 20},
        is_direct=True,
        invite=[BOB],
    )
    current = state(hs, room_id)
    assert current[("m.room.create", "")]["m.federate"] is False
    assert current[("m.room.power_levels", "")]["events_default"] == 20
    assert current[("m.room.member", BOB)]["is_direct"] is True
    assert current[("m.room.canonical_alias", "")] == {"alias": "#pub:test.local"}
    assert run(hs.stores.rooms.get_room(room_id))["is_public"] is True
    assert run(hs.directory_handler.get_association("#pub:test.local"))["room_id"] == room_id
    # defaults: visibility private -> private_chat preset, the server's default version
    other = create(hs)
    assert state(hs, other)[("m.room.join_rules", "")] == {"join_rule": "invite"}
    assert run(hs.stores.rooms.get_room(other)) == {
        "room_id": other,
        "room_version": "10",
        "creator": ALICE,
        "is_public": False,
    }


def test_create_room_bad_input(hs):
    handler = hs.room_creation_handler.create_room
    alice = requester("alice")
    assert _errcode(handler, alice, {"room_version": "999"}) == (400, "M_UNSUPPORTED_ROOM_VERSION")
    assert _errcode(handler, alice, {"preset": "nope"}) == (400, "M_INVALID_PARAM")
    assert _errcode(handler, alice, {"room_alias_name": "a:b"}) == (400, "M_INVALID_PARAM")
    assert _errcode(handler, alice, {"invite": ["not-a-user"]}) == (400, "M_INVALID_PARAM")
    assert _errcode(handler, alice, {"invite": "x"}) == (400, "M_BAD_JSON")
    assert _errcode(handler, alice, {"name": 3}) == (400, "M_BAD_JSON")
    create(hs, room_alias_name="taken")
    assert _errcode(handler, alice, {"room_alias_name": "taken"}) == (400, "M_ROOM_IN_USE")
    # nothing of the refused requests was written
    assert len(run(hs.stores.members.get_rooms_for_user(ALICE))) == 1


def test_publishing_and_alias_rules(db_pool):
    config = make_config()
    config.roomdirectory.is_publishing_room_allowed = lambda user_id, room_id, aliases: False
    config.roomdirectory.is_alias_creation_allowed = lambda user_id, room_id, alias: False
    hs = run(make_homeserver(db_pool, config))
    creation = hs.room_creation_handler.create_room
    assert _errcode(creation, requester("alice"), {"visibility": "public"}) == (403, "M_FORBIDDEN")
    assert _errcode(creation, requester("alice"), {"room_alias_name": "a"}) == (403, "M_FORBIDDEN")
    room_id = create(hs)
    assert _errcode(hs.directory_handler.create_association, requester("alice"), "#b:test.local", room_id) == (
        403,
        "M_FORBIDDEN",
    )
    assert _errcode(hs.directory_handler.set_visibility, requester("alice"), room_id, "public") == (403, "M_FORBIDDEN")
    # server admins bypass both rule sets
    hs.stores.registration.admins.add(ALICE)
    run(hs.directory_handler.set_visibility(requester("alice"), room_id, "public"))
    run(hs.directory_handler.create_association(requester("alice"), "#b:test.local", room_id))
    admin_room = run(creation(requester("alice"), {"visibility": "public", "room_alias_name": "c"}))[0]
    assert run(hs.stores.rooms.get_room(admin_room))["is_public"] is True
    config.roomdirectory.enable_room_list_search = False
    assert run(hs.room_list_handler.get_public_rooms()) == {"chunk": [], "total_room_count_estimate": 0}


def test_room_creation_ratelimited(db_pool):
    hs = run(make_homeserver(db_pool, make_config(rc_room_creation=Limit(per_second=0.001, burst_count=1))))
    create(hs)
    with pytest.raises(LimitExceededError):
        create(hs)


def test_membership_lifecycle(hs):
    room_id = create(hs, preset="private_chat")
    # private room: bob cannot join without an invite
    assert _errcode(hs.room_member_handler.update_membership, requester("bob"), BOB, room_id, "join") == (
        403,
        "M_FORBIDDEN",
    )
    member(hs, "alice", BOB, room_id, "invite")
    member(hs, "bob", BOB, room_id, "join")
    assert run(hs.stores.members.get_membership(room_id, BOB))[0] == "join"
    member(hs, "alice", BOB, room_id, "kick", reason="bye")
    kicked = run(hs.stores.state.get_current_state_event(room_id, "m.room.member", BOB))
    assert kicked.content == {"membership": "leave", "reason": "bye"} and kicked.sender == ALICE
    member(hs, "alice", BOB, room_id, "ban")
    assert run(hs.stores.members.get_membership(room_id, BOB))[0] == "ban"
    assert _errcode(hs.room_member_handler.update_membership, requester("bob"), BOB, room_id, "join")[0] == 403
    member(hs, "alice", BOB, room_id, "unban")
    assert run(hs.stores.members.get_membership(room_id, BOB))[0] == "leave"
    # unban of a user who is not banned, kick of a non-member
    assert _errcode(hs.room_member_handler.update_membership, requester("alice"), BOB, room_id, "unban")[0] == 403
    assert _errcode(hs.room_member_handler.update_membership, requester("alice"), CAROL, room_id, "kick")[0] == 403
    # bob, a non-member, cannot kick or invite
    assert _errcode(hs.room_member_handler.update_membership, requester("bob"), ALICE, room_id, "kick")[0] == 403


def test_leave_rejects_invite_and_forget(hs):
    room_id = create(hs, preset="private_chat")
    member(hs, "alice", BOB, room_id, "invite")
    member(hs, "bob", BOB, room_id, "leave")
    assert run(hs.stores.members.get_membership(room_id, BOB))[0] == "leave"
    # alice is joined: cannot forget
    assert _errcode(hs.room_member_handler.forget, requester("alice"), room_id) == (400, "M_UNKNOWN")
    run(hs.room_member_handler.forget(requester("bob"), room_id))
    assert run(hs.stores.members.did_forget(BOB, room_id)) is True
    assert run(hs.stores.members.get_forgotten_rooms_for_user(BOB)) == {room_id}
    assert run(hs.stores.members.did_forget(ALICE, room_id)) is False


def test_knock(hs):
    room_id = create(
        hs,
        preset="private_chat",
        room_version="10",
        initial_state=[{"type": "m.room.join_rules", "content": {"join_rule": "knock"}}],
    )
    member(hs, "bob", BOB, room_id, "knock", reason="let me in")
    knock = run(hs.stores.state.get_current_state_event(room_id, "m.room.member", BOB))
    assert knock.membership == "knock"
    assert {e["type"] for e in knock.unsigned["knock_room_state"]} >= {"m.room.create", "m.room.join_rules"}
    member(hs, "alice", BOB, room_id, "invite")
    member(hs, "bob", BOB, room_id, "join")
    # knocking is refused before room version 7
    old = create(hs, preset="public_chat", room_version="6")
    assert _errcode(hs.room_member_handler.update_membership, requester("carol"), CAROL, old, "knock")[0] == 403


def test_join_public_room_with_profile(hs):
    hs.stores.profile.profiles[BOB] = {"displayname": "Bobby", "avatar_url": None}
    room_id = create(hs, preset="public_chat")
    member(hs, "bob", BOB, room_id, "join")
    joined = run(hs.stores.state.get_current_state_event(room_id, "m.room.member", BOB))
    assert joined.content == {"membership": "join", "displayname": "Bobby"}
    # profile propagation: a join with content for an already joined member
    member(hs, "bob", BOB, room_id, "join", content={"displayname": "Robert"})
    assert run(hs.stores.members.get_joined_members(room_id))[BOB]["display_name"] == "Robert"


def test_guest_join_needs_guest_access(hs):
    guest = Requester(UserID("guest1", "test.local"), "GDEV", None, is_guest=True)
    public = create(hs, preset="public_chat")  # public_chat sends no guest_access
    with pytest.raises(SynapseError) as e:
        run(hs.room_member_handler.update_membership(guest, guest.user_id, public, "join"))
    assert (e.value.code, e.value.errcode) == (403, "M_GUEST_ACCESS_FORBIDDEN")
    private = create(hs, preset="private_chat")  # guest_access can_join
    member(hs, "alice", guest.user_id, private, "invite")
    run(hs.room_member_handler.update_membership(guest, guest.user_id, private, "join"))
    assert run(hs.stores.members.get_membership(private, guest.user_id))[0] == "join"


def test_membership_errors(hs):
    handler = hs.room_member_handler.update_membership
    assert _errcode(handler, requester("bob"), BOB, "!unknown:test.local", "join") == (404, "M_NOT_FOUND")
    room_id = create(hs)
    assert _errcode(handler, requester("bob"), CAROL, room_id, "join") == (403, "M_FORBIDDEN")
    assert _errcode(handler, requester("alice"), "carol", room_id, "invite") == (400, "M_INVALID_PARAM")
    assert _errcode(handler, requester("alice"), CAROL, room_id, "dance") == (400, "M_INVALID_PARAM")


def test_invite_and_join_ratelimits(db_pool):
    config = make_config(
        rc_invites_per_issuer=Limit(per_second=0.001, burst_count=1),
        rc_joins_per_room=Limit(per_second=0.001, burst_count=1),
    )
    hs = run(make_homeserver(db_pool, config))
    room_id = create(hs, preset="public_chat")
    member(hs, "alice", BOB, room_id, "invite")
    with pytest.raises(LimitExceededError):
        member(hs, "alice", CAROL, room_id, "invite")
    member(hs, "bob", BOB, room_id, "join")
    with pytest.raises(LimitExceededError):
        member(hs, "carol", CAROL, room_id, "join")
    # a profile update of a joined member is not rate limited as a join
    member(hs, "bob", BOB, room_id, "join", content={"displayname": "B"})


def test_send_idempotent_per_device(hs):
    room_id = create(hs)
    first = send(hs, "alice", room_id, txn_id="txn1")
    again = send(hs, "alice", room_id, txn_id="txn1", content={"msgtype": "m.text", "body": "different"})
    assert again.event_id == first.event_id
    other_device = run(
        hs.event_creation_handler.create_and_send_event(
            requester("alice", device_id="OTHER"),
            {"type": "m.room.message", "room_id": room_id, "content": {"body": "y"}},
            txn_id="txn1",
        )
    )
    assert other_device.event_id != first.event_id
    fetched = run(hs.stores.events.get_event(first.event_id))
    assert (fetched.internal_metadata.txn_id, fetched.internal_metadata.device_id) == ("txn1", "DEV")


def test_send_failures(hs):
    room_id = create(hs, preset="public_chat")
    creation = hs.event_creation_handler.create_and_send_event
    message = {"type": "m.room.message", "room_id": room_id, "content": {"body": "x"}}
    assert _errcode(creation, requester("bob"), message) == (403, "M_FORBIDDEN")
    assert _errcode(creation, requester("bob"), {**message, "room_id": "!nope:test.local"}) == (404, "M_NOT_FOUND")
    assert _errcode(creation, requester("alice"), {**message, "content": {"big": "x" * 70000}}) == (413, "M_TOO_LARGE")
    assert _errcode(
        creation,
        requester("alice"),
        {"type": "m.room.name", "room_id": room_id, "state_key": "", "content": {"name": 5}},
    ) == (400, "M_BAD_JSON")
    member(hs, "bob", BOB, room_id, "join")
    # bob (level 0) may not change the name (50)
    assert _errcode(
        creation,
        requester("bob"),
        {"type": "m.room.name", "room_id": room_id, "state_key": "", "content": {"name": "mine"}},
    ) == (403, "M_FORBIDDEN")


def test_message_ratelimit(db_pool):
    hs = run(make_homeserver(db_pool, make_config(rc_message=Limit(per_second=0.001, burst_count=2))))
    room_id = create(hs)
    send(hs, "alice", room_id)
    send(hs, "alice", room_id)
    with pytest.raises(LimitExceededError) as e:
        send(hs, "alice", room_id)
    assert e.value.additional_fields["retry_after_ms"] > 0


def test_redaction_permissions(hs):
    room_id = create(hs, preset="public_chat")
    member(hs, "bob", BOB, room_id, "join")
    member(hs, "carol", CAROL, room_id, "join")
    mine = send(hs, "bob", room_id)
    theirs = send(hs, "carol", room_id)
    send(hs, "bob", room_id, "m.room.redaction", {}, redacts=mine.event_id)
    with pytest.raises(SynapseError) as e:
        send(hs, "bob", room_id, "m.room.redaction", {}, redacts=theirs.event_id)
    assert e.value.code == 403
    send(hs, "alice", room_id, "m.room.redaction", {"reason": "mod"}, redacts=theirs.event_id)
    assert run(hs.stores.events.get_event(theirs.event_id)).content == {}
    assert run(hs.stores.events.get_event(mine.event_id)).content == {}


def test_unknown_alias(hs):
    with pytest.raises(NotFoundError):
        run(hs.directory_handler.resolve_room_id("#nope:test.local"))


def test_repeated_state_is_not_sent_again(hs):
    room_id = create(hs, preset="public_chat", power_level_content_override={"state_default": 0})
    topic = {"topic": "same"}
    first = send(hs, "alice", room_id, "m.room.topic", topic, state_key="")
    again = send(hs, "alice", room_id, "m.room.topic", dict(topic), state_key="")
    assert again.event_id == first.event_id
    assert run(hs.stores.events.get_forward_extremities(room_id)) == [first.event_id]
    # once redacted, the same content is new again
    send(hs, "alice", room_id, "m.room.redaction", {}, redacts=first.event_id)
    third = send(hs, "alice", room_id, "m.room.topic", dict(topic), state_key="")
    assert third.event_id != first.event_id
    # a member who left gets no answer from the old event: the auth rules refuse
    member(hs, "bob", BOB, room_id, "join")
    bobs = send(hs, "bob", room_id, "org.example.bob", {"v": 1}, state_key="")
    member(hs, "bob", BOB, room_id, "leave")
    with pytest.raises(SynapseError) as e:
        send(hs, "bob", room_id, "org.example.bob", {"v": 1}, state_key="")
    assert e.value.code == 403 and bobs.event_id
