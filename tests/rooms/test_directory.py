"""Aliases, directory visibility and the public room list, through the handlers."""

import pytest

from synapse.api.errors import SynapseError
from tests.rooms.server import make_homeserver, requester, user
from tests.support.twisted import run

ALICE, BOB = user("alice"), user("bob")


@pytest.fixture
def hs(db_pool):
    return run(make_homeserver(db_pool))


def _errcode(awaitable):
    with pytest.raises(SynapseError) as e:
        run(awaitable)
    return e.value.code, e.value.errcode


def create(hs, who="alice", **config):
    return run(hs.room_creation_handler.create_room(requester(who), config))[0]


def test_alias_lifecycle(hs):
    directory = hs.directory_handler
    room_id = create(hs, room_alias_name="main")
    run(directory.create_association(requester("bob"), "#other:test.local", room_id))
    assert run(directory.get_association("#other:test.local")) == {"room_id": room_id, "servers": ["test.local"]}
    assert _errcode(directory.create_association(requester("bob"), "#other:test.local", room_id)) == (409, "M_UNKNOWN")
    assert _errcode(directory.create_association(requester("bob"), "#x:elsewhere", room_id)) == (400, "M_INVALID_PARAM")
    assert _errcode(directory.create_association(requester("bob"), "nope", room_id)) == (400, "M_INVALID_PARAM")
    assert _errcode(directory.create_association(requester("bob"), "#y:test.local", "!no:test.local"))[0] == 404
    assert run(directory.get_local_aliases(requester("alice"), room_id)) == ["#main:test.local", "#other:test.local"]
    # bob is not in the (private) room
    assert _errcode(directory.get_local_aliases(requester("bob"), room_id)) == (403, "M_FORBIDDEN")
    # carol neither created the alias nor has power in the room
    assert _errcode(directory.delete_association(requester("carol"), "#other:test.local")) == (403, "M_FORBIDDEN")
    run(directory.delete_association(requester("bob"), "#other:test.local"))  # its creator
    assert _errcode(directory.get_association("#other:test.local")) == (404, "M_NOT_FOUND")
    assert _errcode(directory.delete_association(requester("bob"), "#other:test.local")) == (404, "M_NOT_FOUND")
    # the room admin removes the canonical alias; the state follows
    run(directory.delete_association(requester("alice"), "#main:test.local"))
    canonical = run(hs.stores.state.get_current_state_event(room_id, "m.room.canonical_alias"))
    assert canonical.content == {}


def test_server_admin_deletes_alias(hs):
    room_id = create(hs, room_alias_name="adm")
    hs.stores.registration.admins.add(user("root"))
    run(hs.directory_handler.delete_association(requester("root"), "#adm:test.local"))
    assert run(hs.stores.directory.get_aliases_for_room(room_id)) == []


def test_directory_visibility(hs):
    directory = hs.directory_handler
    room_id = create(hs)
    assert run(directory.get_visibility(room_id)) == "private"
    assert _errcode(directory.set_visibility(requester("bob"), room_id, "public")) == (403, "M_FORBIDDEN")
    assert _errcode(directory.set_visibility(requester("alice"), room_id, "hidden")) == (400, "M_INVALID_PARAM")
    assert _errcode(directory.get_visibility("!no:test.local")) == (404, "M_NOT_FOUND")
    run(directory.set_visibility(requester("alice"), room_id, "public"))
    assert run(directory.get_visibility(room_id)) == "public"


def test_public_rooms_listing(hs):
    rooms = hs.room_list_handler
    big = create(hs, visibility="public", name="Big room", topic="Lots of people", room_alias_name="big")
    for who in ("bob", "carol"):
        run(hs.room_member_handler.update_membership(requester(who), user(who), big, "join"))
    small = create(
        hs,
        who="bob",
        visibility="public",
        name="Small",
        room_version="11",
        initial_state=[{"type": "m.room.history_visibility", "content": {"history_visibility": "world_readable"}}],
    )
    create(hs, name="Private")
    listing = run(rooms.get_public_rooms())
    assert listing["total_room_count_estimate"] == 2
    assert [e["room_id"] for e in listing["chunk"]] == [big, small]
    assert listing["chunk"][0] == {
        "room_id": big,
        "num_joined_members": 3,
        "world_readable": False,
        "guest_can_join": False,
        "name": "Big room",
        "topic": "Lots of people",
        "canonical_alias": "#big:test.local",
        "join_rule": "public",
    }
    assert listing["chunk"][1]["world_readable"] is True
    assert "next_batch" not in listing

    page1 = run(rooms.get_public_rooms(limit=1))
    assert [e["room_id"] for e in page1["chunk"]] == [big] and "prev_batch" not in page1
    page2 = run(rooms.get_public_rooms(limit=1, since=page1["next_batch"]))
    assert [e["room_id"] for e in page2["chunk"]] == [small] and "next_batch" not in page2
    assert run(rooms.get_public_rooms(limit=1, since=page2["prev_batch"]))["chunk"] == page1["chunk"]

    assert [e["room_id"] for e in run(rooms.get_public_rooms(search_term="PEOPLE"))["chunk"]] == [big]
    assert [e["room_id"] for e in run(rooms.get_public_rooms(search_term="#big"))["chunk"]] == [big]
    assert run(rooms.get_public_rooms(search_term="nothing"))["chunk"] == []
    assert _errcode(rooms.get_public_rooms(since="garbage")) == (400, "M_INVALID_PARAM")
