"""/messages, /context, event by id, members, joined rooms and the legacy endpoints, through the handlers."""

from typing import Any, Callable

import pytest

from synapse.api.errors import SynapseError
from synapse.api.filtering import Filter
from tests.reading.conftest import Actions
from tests.rooms.server import requester, user
from tests.support.twisted import run

ALICE, BOB, CAROL = user("alice"), user("bob"), user("carol")


def errcode(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[int, str]:
    with pytest.raises(SynapseError) as e:
        run(fn(*args, **kwargs))
    return e.value.code, e.value.errcode


def bodies(events: list) -> list:
    return [e["content"]["body"] for e in events if e["type"] == "m.room.message"]


def test_messages_both_directions_and_bounds(act: Actions) -> None:
    room = act.create("alice")
    for i in range(6):
        act.send("alice", room, f"m{i}")
    page = act.messages("alice", room, limit=3)
    assert bodies(page["chunk"]) == ["m5", "m4", "m3"] and "end" in page
    page2 = act.messages("alice", room, from_token=page["end"], limit=3)
    assert bodies(page2["chunk"]) == ["m2", "m1", "m0"]
    # forwards from the back page's end returns to where we were
    fwd = act.messages("alice", room, from_token=page2["end"], direction="f", limit=100)
    assert bodies(fwd["chunk"]) == [f"m{i}" for i in range(6)]
    # `to` bounds the page
    bounded = act.messages("alice", room, from_token=page2["start"], to_token=page2["end"], limit=100)
    assert bodies(bounded["chunk"]) == ["m2", "m1", "m0"]
    # from omitted with dir=f starts at the beginning of the room
    first = act.messages("alice", room, direction="f", limit=1)
    assert first["chunk"][0]["type"] == "m.room.create"
    # the end of history has no `end`
    everything = act.messages("alice", room, limit=1000)
    assert "end" not in everything and everything["chunk"][-1]["type"] == "m.room.create"
    # a sync token is accepted as `from`
    next_batch = act.sync("alice")["next_batch"]
    assert bodies(act.messages("alice", room, from_token=next_batch, limit=1)["chunk"]) == ["m5"]


def test_messages_filter_and_lazy_members(act: Actions) -> None:
    room = act.create("alice", preset="public_chat")
    act.member("bob", BOB, room, "join")
    act.send("bob", room, "from bob")
    act.send("alice", room, "from alice")
    page = act.messages("alice", room, limit=10, event_filter=Filter({"senders": [BOB], "lazy_load_members": True}))
    assert bodies(page["chunk"]) == ["from bob"] or all(e["sender"] == BOB for e in page["chunk"])
    assert {e["state_key"] for e in page["state"]} == {BOB}
    only_types = act.messages("alice", room, event_filter=Filter({"types": ["m.room.message"]}))
    assert bodies(only_types["chunk"]) == ["from alice", "from bob"]
    assert "state" not in only_types


def test_messages_errors(act: Actions, hs) -> None:
    room = act.create("alice")
    handler = hs.pagination_handler
    common = {"to_token": None, "limit": None, "event_filter": None}
    assert errcode(handler.get_messages, requester("bob"), room, from_token=None, direction="b", **common) == (
        403,
        "M_FORBIDDEN",
    )
    assert errcode(
        handler.get_messages, requester("bob"), "!nope:test.local", from_token=None, direction="b", **common
    ) == (
        403,
        "M_FORBIDDEN",
    )
    assert errcode(handler.get_messages, requester("alice"), room, from_token="garbage", direction="b", **common) == (
        400,
        "M_INVALID_PARAM",
    )
    assert errcode(handler.get_messages, requester("alice"), room, from_token=None, direction="x", **common) == (
        400,
        "M_INVALID_PARAM",
    )


def test_world_readable_rooms_can_be_read_by_anyone(act: Actions) -> None:
    room = act.create("alice", preset="public_chat")
    act.state("alice", room, "m.room.history_visibility", {"history_visibility": "world_readable"})
    act.send("alice", room, "public")
    assert bodies(act.messages("carol", room)["chunk"]) == ["public"]


def test_left_user_reads_up_to_their_leave(act: Actions) -> None:
    room = act.create("alice", preset="public_chat")
    act.member("bob", BOB, room, "join")
    act.send("alice", room, "seen")
    act.member("bob", BOB, room, "leave")
    act.send("alice", room, "unseen")
    page = act.messages("bob", room, limit=20)
    assert "unseen" not in bodies(page["chunk"]) and "seen" in bodies(page["chunk"])
    members = run(
        act.hs.pagination_handler.get_members(requester("bob"), room, at=None, membership=None, not_membership=None)
    )
    assert {m["state_key"]: m["content"]["membership"] for m in members["chunk"]} == {ALICE: "join", BOB: "leave"}


def test_context_around_an_event(act: Actions, hs) -> None:
    room = act.create("alice")
    ids = [act.send("alice", room, f"m{i}") for i in range(7)]
    act.state("alice", room, "m.room.topic", {"topic": "later"})
    ctx = run(hs.pagination_handler.get_event_context(requester("alice"), room, ids[3], 4, None))
    assert ctx["event"]["event_id"] == ids[3]
    assert bodies(ctx["events_before"]) == ["m2", "m1"]
    assert bodies(ctx["events_after"]) == ["m4", "m5"]
    assert {"start", "end", "state"} <= set(ctx)
    before = act.messages("alice", room, from_token=ctx["start"], limit=1)
    assert bodies(before["chunk"]) == ["m0"]
    after = act.messages("alice", room, from_token=ctx["end"], direction="f", limit=1)
    assert bodies(after["chunk"]) == ["m6"]
    assert ("m.room.topic", "") not in {(e["type"], e["state_key"]) for e in ctx["state"]}
    assert errcode(hs.pagination_handler.get_event_context, requester("alice"), room, "$unknown", 4, None) == (
        404,
        "M_NOT_FOUND",
    )
    assert errcode(hs.pagination_handler.get_event_context, requester("bob"), room, ids[0], 4, None) == (
        403,
        "M_FORBIDDEN",
    )


def test_single_event_by_id(act: Actions, hs) -> None:
    room = act.create("alice")
    event_id = act.send("alice", room, "hello")
    got = run(hs.pagination_handler.get_event(requester("alice"), room, event_id))
    assert got["event_id"] == event_id and got["room_id"] == room and got["content"]["body"] == "hello"
    assert errcode(hs.pagination_handler.get_event, requester("alice"), room, "$missing") == (404, "M_NOT_FOUND")
    assert errcode(hs.pagination_handler.get_event, requester("bob"), room, event_id) == (404, "M_NOT_FOUND")
    other = act.create("alice")
    assert errcode(hs.pagination_handler.get_event, requester("alice"), other, event_id) == (404, "M_NOT_FOUND")
    legacy = run(hs.event_stream_handler.get_event(requester("alice"), event_id))
    assert legacy["user_id"] == ALICE and legacy["event_id"] == event_id
    assert errcode(hs.event_stream_handler.get_event, requester("bob"), event_id) == (404, "M_NOT_FOUND")


def test_members_filters_at_and_joined(act: Actions, hs) -> None:
    room = act.create("alice", preset="public_chat")
    act.member("bob", BOB, room, "join")
    at = act.sync("alice")["next_batch"]
    act.member("alice", CAROL, room, "invite")
    act.member("bob", BOB, room, "leave")
    pagination = hs.pagination_handler

    def members(**kwargs: Any) -> dict:
        args = {"at": None, "membership": None, "not_membership": None, **kwargs}
        got = run(pagination.get_members(requester("alice"), room, **args))
        return {m["state_key"]: m["content"]["membership"] for m in got["chunk"]}

    assert members() == {ALICE: "join", BOB: "leave", CAROL: "invite"}
    assert members(membership="join") == {ALICE: "join"}
    assert members(not_membership="leave") == {ALICE: "join", CAROL: "invite"}
    assert members(at=at) == {ALICE: "join", BOB: "join"}
    joined = run(pagination.get_joined_members(requester("alice"), room))
    assert joined == {"joined": {ALICE: {"display_name": None, "avatar_url": None}}}
    assert errcode(pagination.get_joined_members, requester("carol"), room) == (403, "M_FORBIDDEN")
    assert errcode(pagination.get_joined_members, requester("bob"), room) == (403, "M_FORBIDDEN")
    assert errcode(pagination.get_members, requester("carol"), room, at=None, membership=None, not_membership=None) == (
        403,
        "M_FORBIDDEN",
    )
    rooms = run(pagination.get_joined_rooms(requester("alice")))
    assert rooms == {"joined_rooms": [room]}
    assert run(pagination.get_joined_rooms(requester("bob"))) == {"joined_rooms": []}


def test_legacy_event_stream_and_initial_sync(act: Actions, hs) -> None:
    room = act.create("alice", name="Legacy")
    act.send("alice", room, "first")
    snapshot = run(hs.initial_sync_handler.initial_sync(requester("alice"), 2))
    assert snapshot["presence"] == [] and snapshot["account_data"] == []
    (info,) = snapshot["rooms"]
    assert info["room_id"] == room and info["membership"] == "join" and info["visibility"] == "private"
    assert bodies(info["messages"]["chunk"]) == ["first"]
    assert info["messages"]["chunk"][-1]["user_id"] == ALICE
    assert ("m.room.name", "") in {(e["type"], e["state_key"]) for e in info["state"]}
    assert len(info["messages"]["chunk"]) == 2
    older = act.messages("alice", room, from_token=info["messages"]["start"], limit=1)
    assert len(older["chunk"]) == 1 and older["chunk"][0]["event_id"] != info["messages"]["chunk"][0]["event_id"]

    act.send("alice", room, "second")
    stream = run(hs.event_stream_handler.get_stream(requester("alice"), snapshot["end"], 0))
    assert bodies(stream["chunk"]) == ["second"] and stream["start"] == snapshot["end"]
    quiet = run(hs.event_stream_handler.get_stream(requester("alice"), stream["end"], 0))
    assert quiet["chunk"] == [] and quiet["end"] == stream["end"]

    per_room = run(hs.initial_sync_handler.room_initial_sync(requester("alice"), room, 1))
    assert per_room["room_id"] == room and per_room["membership"] == "join"
    assert bodies(per_room["messages"]["chunk"]) == ["second"]
    assert errcode(hs.initial_sync_handler.room_initial_sync, requester("bob"), room, 10) == (403, "M_FORBIDDEN")
    # invites show up with the invite event
    act.member("alice", BOB, room, "invite")
    bob_snapshot = run(hs.initial_sync_handler.initial_sync(requester("bob"), 10))
    (bob_info,) = bob_snapshot["rooms"]
    assert bob_info["membership"] == "invite" and bob_info["invite"]["state_key"] == BOB


def test_visibility_rules_table() -> None:
    from synapse.handlers.visibility import visibility_allows

    assert visibility_allows("world_readable", None, False)
    assert visibility_allows("joined", "join", False)
    assert not visibility_allows("joined", "invite", False)
    assert not visibility_allows("joined", None, True)
    assert visibility_allows("shared", None, True)
    assert not visibility_allows("shared", "leave", False)
    assert visibility_allows("invited", "invite", False)
    assert not visibility_allows("invited", "leave", True)
    # unknown values count as shared
    assert visibility_allows("org.example", None, True) and not visibility_allows("org.example", None, False)


def test_history_visibility_change_events_and_world_readable_periods(act: Actions) -> None:
    room = act.create("alice", preset="public_chat")
    act.state("alice", room, "m.room.history_visibility", {"history_visibility": "joined"})
    act.send("alice", room, "private")
    act.state("alice", room, "m.room.history_visibility", {"history_visibility": "world_readable"})
    act.send("alice", room, "public")
    chunk = act.messages("carol", room, limit=50)["chunk"]
    assert bodies(chunk) == ["public"]
    # the change to world_readable is visible (the state after it allows it)
    assert any(
        e["type"] == "m.room.history_visibility" and e["content"]["history_visibility"] == "world_readable"
        for e in chunk
    )


def test_invited_visibility_shows_history_from_the_invite(act: Actions) -> None:
    room = act.create("alice")
    act.state("alice", room, "m.room.history_visibility", {"history_visibility": "invited"})
    act.send("alice", room, "before invite")
    act.member("alice", BOB, room, "invite")
    act.send("alice", room, "while invited")
    act.member("bob", BOB, room, "join")
    act.send("alice", room, "joined")
    assert bodies(act.messages("bob", room, limit=50)["chunk"]) == ["joined", "while invited"]
