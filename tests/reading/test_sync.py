"""/sync through the handler on both engines: sections, state, limits, tokens, long-polling."""

import time

from twisted.internet import defer

from synapse.api.errors import SynapseError
from synapse.api.filtering import FilterCollection
from synapse.handlers.sync import SyncRequest
from synapse.streams.tokens import StreamToken
from tests.reading.conftest import Actions
from tests.rooms.server import requester, user
from tests.support.twisted import run

ALICE, BOB, CAROL = user("alice"), user("bob"), user("carol")


def bodies(room: dict) -> list:
    return [e["content"].get("body") for e in room["timeline"]["events"] if e["type"] == "m.room.message"]


def state_keys(room: dict) -> set:
    return {(e["type"], e["state_key"]) for e in room["state"]["events"]}


def test_initial_sync_has_timeline_state_and_summary(act: Actions) -> None:
    room = act.create("alice", name="Room", preset="private_chat")
    for i in range(12):
        act.send("alice", room, f"m{i}")
    result = act.sync("alice")
    assert set(result) >= {"next_batch", "rooms", "account_data", "presence", "to_device", "device_lists"}
    joined = result["rooms"]["join"][room]
    assert bodies(joined) == [f"m{i}" for i in range(2, 12)]
    assert joined["timeline"]["limited"] is True
    assert all("room_id" not in e for e in joined["timeline"]["events"])
    assert ("m.room.create", "") in state_keys(joined) and ("m.room.name", "") in state_keys(joined)
    assert ("m.room.member", ALICE) in state_keys(joined)
    assert joined["summary"] == {"m.heroes": [], "m.joined_member_count": 1, "m.invited_member_count": 0}
    assert joined["unread_notifications"] == {"highlight_count": 0, "notification_count": 0}
    assert joined["ephemeral"] == {"events": []}


def test_incremental_sync_only_new_events_and_no_state(act: Actions) -> None:
    room = act.create("alice")
    other = act.create("alice")
    token = act.sync("alice")["next_batch"]
    empty = act.sync("alice", since=token)
    assert empty["rooms"]["join"] == {} and empty["next_batch"] == token
    act.send("alice", room, "new")
    result = act.sync("alice", since=token)
    assert list(result["rooms"]["join"]) == [room] and other not in result["rooms"]["join"]
    joined = result["rooms"]["join"][room]
    assert bodies(joined) == ["new"] and joined["timeline"]["limited"] is False
    assert joined["state"]["events"] == []
    assert StreamToken.from_string(result["next_batch"]).is_after(StreamToken.from_string(token))


def test_limited_incremental_sync_gives_state_delta(act: Actions) -> None:
    room = act.create("alice")
    token = act.sync("alice")["next_batch"]
    act.state("alice", room, "m.room.topic", {"topic": "t1"})
    for i in range(3):
        act.send("alice", room, f"m{i}")
    result = act.sync("alice", since=token, filter_json={"room": {"timeline": {"limit": 2}}})
    joined = result["rooms"]["join"][room]
    assert joined["timeline"]["limited"] is True and bodies(joined) == ["m1", "m2"]
    assert state_keys(joined) == {("m.room.topic", "")}


def test_prev_batch_continues_with_messages_without_gaps(act: Actions, hs) -> None:
    room = act.create("alice")
    sent = [act.send("alice", room, f"m{i}") for i in range(23)]
    joined = act.sync("alice", filter_json={"room": {"timeline": {"limit": 5}}})["rooms"]["join"][room]
    seen = [e["event_id"] for e in joined["timeline"]["events"]]
    token = joined["timeline"]["prev_batch"]
    while token:
        page = act.messages("alice", room, from_token=token, limit=4)
        seen = [e["event_id"] for e in reversed(page["chunk"])] + seen
        token = page.get("end")
    messages = [e for e in seen if e in set(sent)]
    assert messages == sent
    assert len(seen) == len(set(seen))
    first = run(hs.stores.events.get_event(seen[0]))
    assert first.type == "m.room.create"


def test_lazy_loading_members_only_for_timeline_senders(act: Actions) -> None:
    room = act.create("alice", preset="public_chat")
    for who in ("bob", "carol"):
        act.member(who, user(who), room, "join")
    for i in range(3):
        act.send("bob", room, f"b{i}")
    lazy = {"room": {"timeline": {"limit": 3}, "state": {"lazy_load_members": True}}}
    joined = act.sync("alice", filter_json=lazy)["rooms"]["join"][room]
    members = {k for t, k in state_keys(joined) if t == "m.room.member"}
    assert members == {BOB, ALICE}
    assert ("m.room.create", "") in state_keys(joined)
    full = act.sync("alice", filter_json={"room": {"timeline": {"limit": 3}}})["rooms"]["join"][room]
    assert {k for t, k in state_keys(full) if t == "m.room.member"} == {ALICE, BOB, CAROL}
    assert full["summary"]["m.joined_member_count"] == 3
    assert full["summary"]["m.heroes"] == sorted([BOB, CAROL])


def test_invite_section_with_stripped_state(act: Actions) -> None:
    room = act.create("alice", name="Invite me")
    token = act.sync("bob")["next_batch"]
    act.member("alice", BOB, room, "invite")
    result = act.sync("bob", since=token)
    invite = result["rooms"]["invite"][room]["invite_state"]["events"]
    types = {(e["type"], e["state_key"]) for e in invite}
    assert {("m.room.create", ""), ("m.room.join_rules", ""), ("m.room.name", ""), ("m.room.member", BOB)} <= types
    assert all(set(e) == {"type", "state_key", "content", "sender"} for e in invite)
    assert room not in result["rooms"]["join"]
    # an initial sync shows pending invites too
    assert room in act.sync("bob")["rooms"]["invite"]


def test_newly_joined_room_gets_full_state(act: Actions) -> None:
    room = act.create("alice", preset="public_chat", name="N")
    act.send("alice", room, "before")
    token = act.sync("bob")["next_batch"]
    act.member("bob", BOB, room, "join")
    joined = act.sync("bob", since=token)["rooms"]["join"][room]
    keys = state_keys(joined) | {(e["type"], e.get("state_key")) for e in joined["timeline"]["events"]}
    assert {("m.room.create", ""), ("m.room.name", ""), ("m.room.power_levels", "")} <= keys
    assert "before" in bodies(joined)  # shared visibility: history is visible once joined
    # a profile change (join -> join) is not a new join: no full state again
    token = act.sync("bob")["next_batch"]
    act.send("alice", room, "after")
    again = act.sync("bob", since=token)["rooms"]["join"][room]
    assert again["state"]["events"] == [] and bodies(again) == ["after"]


def test_leave_section_stops_at_the_leave(act: Actions) -> None:
    room = act.create("alice", preset="public_chat")
    act.member("bob", BOB, room, "join")
    token = act.sync("bob")["next_batch"]
    act.send("alice", room, "while there")
    act.member("bob", BOB, room, "leave")
    act.send("alice", room, "after leaving")
    result = act.sync("bob", since=token)
    assert room not in result["rooms"]["join"]
    left = result["rooms"]["leave"][room]
    assert bodies(left) == ["while there"]
    last = left["timeline"]["events"][-1]
    assert (last["type"], last["state_key"], last["content"]["membership"]) == ("m.room.member", BOB, "leave")
    # later syncs do not repeat it; include_leave shows it on an initial sync
    assert room not in act.sync("bob", since=result["next_batch"])["rooms"]["leave"]
    assert room not in act.sync("bob")["rooms"]["leave"]
    archived = act.sync("bob", filter_json={"room": {"include_leave": True}})["rooms"]["leave"][room]
    assert "after leaving" not in bodies(archived)


def test_joined_history_visibility_hides_history_before_join(act: Actions) -> None:
    room = act.create("alice", preset="public_chat")
    act.state("alice", room, "m.room.history_visibility", {"history_visibility": "joined"})
    act.send("alice", room, "secret")
    act.member("bob", BOB, room, "join")
    act.send("alice", room, "visible")
    joined = act.sync("bob")["rooms"]["join"][room]
    assert bodies(joined) == ["visible"]
    chunk = act.messages("bob", room, limit=50)["chunk"]
    assert [e["content"].get("body") for e in chunk if e["type"] == "m.room.message"] == ["visible"]
    assert "secret" in bodies(act.sync("alice")["rooms"]["join"][room])


def test_shared_visibility_shows_history_to_later_joiners(act: Actions) -> None:
    room = act.create("alice", preset="public_chat")
    act.send("alice", room, "old")
    act.member("bob", BOB, room, "join")
    chunk = act.messages("bob", room, limit=50)["chunk"]
    assert "old" in [e["content"].get("body") for e in chunk]


def test_filters_apply_to_sync(act: Actions) -> None:
    room = act.create("alice")
    other = act.create("alice")
    act.send("alice", room, "hi", url="mxc://a/b")
    result = act.sync(
        "alice",
        filter_json={
            "room": {
                "not_rooms": [other],
                "timeline": {"types": ["m.room.message"]},
                "state": {"types": ["m.room.create"]},
            },
            "event_fields": ["type", "content.body", "event_id"],
        },
    )
    assert other not in result["rooms"]["join"]
    joined = result["rooms"]["join"][room]
    assert [set(e) for e in joined["timeline"]["events"]] == [{"type", "content", "event_id"}]
    assert joined["timeline"]["events"][0]["content"] == {"body": "hi"}
    assert [e["type"] for e in joined["state"]["events"]] == ["m.room.create"]
    # rooms excluded from the timeline filter still sync their state
    only_state = act.sync("alice", filter_json={"room": {"timeline": {"not_rooms": [room]}}})["rooms"]["join"][room]
    assert only_state["timeline"]["events"] == [] and only_state["state"]["events"]


def test_long_poll_wakes_on_another_users_message(act: Actions, hs) -> None:
    room = act.create("alice", preset="public_chat")
    act.member("bob", BOB, room, "join")
    token = act.sync("alice")["next_batch"]
    request = SyncRequest(requester("alice"), FilterCollection(), StreamToken.from_string(token))

    async def scenario() -> tuple[dict, float]:
        started = time.monotonic()
        waiting = defer.ensureDeferred(hs.sync_handler.wait_for_sync_for_user(request, 20_000))
        await hs.clock.sleep(0.2)
        assert not waiting.called
        event = {"type": "m.room.message", "room_id": room, "content": {"msgtype": "m.text", "body": "wake"}}
        await hs.event_creation_handler.create_and_send_event(requester("bob"), event)
        result = await waiting
        return result, time.monotonic() - started

    result, elapsed = run(scenario())
    assert elapsed < 5
    assert bodies(result["rooms"]["join"][room]) == ["wake"]


def test_long_poll_times_out_empty(act: Actions, hs) -> None:
    act.create("alice")
    token = act.sync("alice")["next_batch"]
    request = SyncRequest(requester("alice"), FilterCollection(), StreamToken.from_string(token))
    started = time.monotonic()
    result = run(hs.sync_handler.wait_for_sync_for_user(request, 300))
    assert 0.25 < time.monotonic() - started < 5
    assert result["rooms"]["join"] == {} and result["next_batch"] == token


def test_bad_since_token(act: Actions) -> None:
    try:
        act.sync("alice", since="not-a-token")
    except SynapseError as e:
        assert (e.code, e.errcode) == (400, "M_INVALID_PARAM")
    else:
        raise AssertionError("expected M_INVALID_PARAM")


def test_sync_cost_does_not_grow_with_rooms_or_events(act: Actions, hs) -> None:
    """Store transactions per sync are a fixed number, not one per room or event."""
    pool = hs.db
    calls: list[str] = []
    original = pool.runInteraction

    async def counting(desc: str, func, *args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(desc)
        return await original(desc, func, *args, **kwargs)

    def cost(room_count: int) -> tuple[int, int, int]:
        rooms = [act.create("alice") for _ in range(room_count)]
        token = act.sync("alice")["next_batch"]
        for room in rooms:
            for i in range(3):
                act.send("alice", room, f"m{i}")
        pool.runInteraction = counting  # type: ignore[method-assign]
        try:
            calls.clear()
            act.sync("alice")
            initial = len(calls)
            calls.clear()
            result = act.sync("alice", since=token)
            incremental = len(calls)
            calls.clear()
            act.sync("alice", since=result["next_batch"])
            idle = len(calls)
        finally:
            pool.runInteraction = original  # type: ignore[method-assign]
        return initial, incremental, idle

    small = cost(2)
    large = cost(10)
    assert large[0] <= small[0] + 1 and large[1] <= small[1] + 1
    # idle: memberships, membership changes, the device's key summary, key changes
    assert large[2] <= 4, calls


def test_knock_section(act: Actions) -> None:
    room = act.create("alice", name="Knock here")
    act.state("alice", room, "m.room.join_rules", {"join_rule": "knock"})
    token = act.sync("bob")["next_batch"]
    act.member("bob", BOB, room, "knock")
    result = act.sync("bob", since=token)
    knock = result["rooms"]["knock"][room]["knock_state"]["events"]
    keys = {(e["type"], e["state_key"]) for e in knock}
    assert {("m.room.name", ""), ("m.room.join_rules", ""), ("m.room.member", BOB)} <= keys
    assert room not in result["rooms"]["invite"] and room not in result["rooms"]["join"]
