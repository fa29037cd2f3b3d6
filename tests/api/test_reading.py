"""Reading API over real HTTP against a homeserver process (both databases):
filters, /sync (initial, incremental, long-poll, sections), /messages,
/context, event by id, members, joined rooms, legacy /events and /initialSync,
history visibility, and their errcodes."""

import json
import threading
import time
import urllib.parse
from typing import Any, Iterator, Optional

import pytest

from tests.accounts.client import Client, new_user, q, start_accounts_homeserver
from tests.support.homeserver import Homeserver


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def homeserver(request: pytest.FixtureRequest) -> Iterator[Homeserver]:
    hs = start_accounts_homeserver(request.param)
    yield hs
    hs.stop()


def ok(result: tuple[int, Any]) -> Any:
    status, body = result
    assert status == 200, body
    return body


def create_room(client: Client, **body: Any) -> str:
    return ok(client.post("/createRoom", body))["room_id"]


_txn = iter(range(10**9))


def send(client: Client, room_id: str, body: str) -> str:
    path = f"/rooms/{q(room_id)}/send/m.room.message/t{next(_txn)}"
    return ok(client.put(path, {"msgtype": "m.text", "body": body}))["event_id"]


def join(client: Client, room_id: str) -> None:
    ok(client.post(f"/rooms/{q(room_id)}/join", {}))


def sync(client: Client, **params: Any) -> dict:
    query = urllib.parse.urlencode({k: json.dumps(v) if isinstance(v, dict) else v for k, v in params.items()})
    return ok(client.get(f"/sync?{query}"))


def messages(client: Client, room_id: str, **params: Any) -> dict:
    query = urllib.parse.urlencode({k: json.dumps(v) if isinstance(v, dict) else v for k, v in params.items()})
    return ok(client.get(f"/rooms/{q(room_id)}/messages?{query}"))


def bodies(events: list) -> list:
    return [e["content"].get("body") for e in events if e["type"] == "m.room.message"]


def error(result: tuple[int, Any]) -> tuple[int, Optional[str]]:
    status, body = result
    return status, body.get("errcode")


# -- filters ---------------------------------------------------------------
def test_filter_upload_download_and_errors(homeserver: Homeserver) -> None:
    alice, bob = new_user(homeserver, "fa"), new_user(homeserver, "fb")
    definition = {
        "room": {"timeline": {"limit": 3, "types": ["m.room.message"]}},
        "event_fields": ["type", "content.body"],
    }
    filter_id = ok(alice.post(f"/user/{q(alice.user_id)}/filter", definition))["filter_id"]
    assert isinstance(filter_id, str)
    assert ok(alice.get(f"/user/{q(alice.user_id)}/filter/{filter_id}")) == definition
    assert error(alice.get(f"/user/{q(alice.user_id)}/filter/987654")) == (404, "M_NOT_FOUND")
    assert error(alice.get(f"/user/{q(alice.user_id)}/filter/nonsense")) == (404, "M_NOT_FOUND")
    assert error(bob.get(f"/user/{q(alice.user_id)}/filter/{filter_id}"))[0] == 403
    assert error(bob.post(f"/user/{q(alice.user_id)}/filter", definition))[0] == 403
    assert error(alice.post(f"/user/{q(alice.user_id)}/filter", {"room": {"timeline": {"limit": "x"}}})) == (
        400,
        "M_BAD_JSON",
    )
    assert error(alice.request("POST", f"/user/{q(alice.user_id)}/filter", b"{nope")) == (400, "M_NOT_JSON")
    # the stored filter applies to /sync by id
    room = create_room(alice)
    for i in range(5):
        send(alice, room, f"m{i}")
    joined = sync(alice, filter=filter_id)["rooms"]["join"][room]
    assert bodies(joined["timeline"]["events"]) == ["m2", "m3", "m4"]
    assert all(set(e) == {"type", "content"} for e in joined["timeline"]["events"])
    assert error(alice.get("/sync?filter=424242")) == (400, "M_INVALID_PARAM")
    assert error(alice.get("/sync?filter=" + q('{"room": {"timeline": {"limit": 0}}}'))) == (400, "M_BAD_JSON")


# -- /sync -----------------------------------------------------------------
def test_initial_and_incremental_sync(homeserver: Homeserver) -> None:
    alice = new_user(homeserver, "sa")
    room = create_room(alice, name="Sync room")
    send(alice, room, "hello")
    first = sync(alice)
    assert {"next_batch", "rooms", "account_data", "presence", "to_device", "device_lists"} <= set(first)
    joined = first["rooms"]["join"][room]
    assert bodies(joined["timeline"]["events"]) == ["hello"]
    assert {"prev_batch", "limited"} <= set(joined["timeline"])
    # state up to the timeline's start plus the timeline itself give the whole room
    everything = joined["state"]["events"] + joined["timeline"]["events"]
    assert ("m.room.name", "") in {(e["type"], e.get("state_key")) for e in everything}
    assert joined["summary"]["m.joined_member_count"] == 1
    quiet = sync(alice, since=first["next_batch"], timeout=0)
    assert room not in quiet["rooms"]["join"]
    send(alice, room, "again")
    later = sync(alice, since=first["next_batch"])
    assert bodies(later["rooms"]["join"][room]["timeline"]["events"]) == ["again"]
    assert later["rooms"]["join"][room]["state"]["events"] == []
    full = sync(alice, since=first["next_batch"], full_state="true")
    assert any(e["type"] == "m.room.create" for e in full["rooms"]["join"][room]["state"]["events"])
    assert error(alice.get("/sync?since=garbage")) == (400, "M_INVALID_PARAM")
    assert error(alice.get("/sync?set_presence=dancing")) == (400, "M_INVALID_PARAM")
    assert ok(alice.get("/sync?set_presence=offline"))["next_batch"]
    assert error(Client(homeserver.base_url).get("/sync"))[1] == "M_MISSING_TOKEN"


def test_long_poll_wakes_promptly_on_another_users_message(homeserver: Homeserver) -> None:
    alice, bob = new_user(homeserver, "la"), new_user(homeserver, "lb")
    room = create_room(alice, preset="public_chat")
    join(bob, room)
    since = sync(alice)["next_batch"]
    result: dict[str, Any] = {}

    def poll() -> None:
        started = time.monotonic()
        result["body"] = sync(alice, since=since, timeout=20000)
        result["elapsed"] = time.monotonic() - started

    thread = threading.Thread(target=poll)
    thread.start()
    time.sleep(0.5)
    assert "body" not in result
    send(bob, room, "wake up")
    thread.join(25)
    assert result["elapsed"] < 5, result["elapsed"]
    assert bodies(result["body"]["rooms"]["join"][room]["timeline"]["events"]) == ["wake up"]


def test_limited_timeline_continues_with_messages(homeserver: Homeserver) -> None:
    alice = new_user(homeserver, "pa")
    room = create_room(alice)
    sent = [send(alice, room, f"m{i}") for i in range(25)]
    joined = sync(alice, filter={"room": {"timeline": {"limit": 4}}})["rooms"]["join"][room]
    assert joined["timeline"]["limited"] is True
    seen = [e["event_id"] for e in joined["timeline"]["events"]]
    token = joined["timeline"]["prev_batch"]
    while token:
        page = messages(alice, room, dir="b", limit=6, **{"from": token})
        seen = [e["event_id"] for e in reversed(page["chunk"])] + seen
        token = page.get("end")
    assert len(seen) == len(set(seen))
    assert [e for e in seen if e in set(sent)] == sent


def test_lazy_loading_members(homeserver: Homeserver) -> None:
    alice, bob, carol = (new_user(homeserver, p) for p in ("za", "zb", "zc"))
    room = create_room(alice, preset="public_chat")
    join(bob, room)
    join(carol, room)
    send(bob, room, "bob speaks")
    lazy = {"room": {"timeline": {"limit": 1}, "state": {"lazy_load_members": True}}}
    joined = sync(alice, filter=lazy)["rooms"]["join"][room]
    members = {e["state_key"] for e in joined["state"]["events"] if e["type"] == "m.room.member"}
    assert members == {alice.user_id, bob.user_id}
    page = messages(alice, room, dir="b", limit=1, filter={"lazy_load_members": True})
    assert {e["state_key"] for e in page["state"]} == {bob.user_id}


def test_invite_and_leave_sections(homeserver: Homeserver) -> None:
    alice, bob = new_user(homeserver, "ia"), new_user(homeserver, "ib")
    room = create_room(alice, name="Invite room")
    since = sync(bob)["next_batch"]
    ok(alice.post(f"/rooms/{q(room)}/invite", {"user_id": bob.user_id}))
    invited = sync(bob, since=since)
    state = invited["rooms"]["invite"][room]["invite_state"]["events"]
    assert ("m.room.name", "") in {(e["type"], e["state_key"]) for e in state}
    assert ("m.room.member", bob.user_id) in {(e["type"], e["state_key"]) for e in state}
    join(bob, room)
    since = sync(bob)["next_batch"]
    send(alice, room, "before leave")
    ok(bob.post(f"/rooms/{q(room)}/leave", {}))
    send(alice, room, "after leave")
    left = sync(bob, since=since)["rooms"]["leave"][room]
    assert bodies(left["timeline"]["events"]) == ["before leave"]
    assert left["timeline"]["events"][-1]["content"]["membership"] == "leave"
    assert "after leave" not in bodies(messages(bob, room, dir="b", limit=50)["chunk"])


def test_history_visibility_joined(homeserver: Homeserver) -> None:
    alice, bob = new_user(homeserver, "ha"), new_user(homeserver, "hb")
    room = create_room(alice, preset="public_chat")
    ok(alice.put(f"/rooms/{q(room)}/state/m.room.history_visibility/", {"history_visibility": "joined"}))
    secret = send(alice, room, "before bob")
    join(bob, room)
    send(alice, room, "after bob")
    assert bodies(sync(bob)["rooms"]["join"][room]["timeline"]["events"]) == ["after bob"]
    assert bodies(messages(bob, room, dir="b", limit=50)["chunk"]) == ["after bob"]
    assert error(bob.get(f"/rooms/{q(room)}/event/{q(secret)}")) == (404, "M_NOT_FOUND")
    assert ok(alice.get(f"/rooms/{q(room)}/event/{q(secret)}"))["content"]["body"] == "before bob"


# -- /messages, /context, event, members -------------------------------------
def test_messages_directions_and_errors(homeserver: Homeserver) -> None:
    alice, eve = new_user(homeserver, "ma"), new_user(homeserver, "me")
    room = create_room(alice)
    for i in range(4):
        send(alice, room, f"m{i}")
    back = messages(alice, room, dir="b", limit=2)
    assert bodies(back["chunk"]) == ["m3", "m2"] and {"start", "end"} <= set(back)
    forward = messages(alice, room, dir="f", limit=100, **{"from": back["end"]})
    assert bodies(forward["chunk"]) == ["m2", "m3"] or bodies(forward["chunk"])[-2:] == ["m2", "m3"]
    assert messages(alice, room, dir="f", limit=1)["chunk"][0]["type"] == "m.room.create"
    typed = messages(alice, room, dir="b", filter={"types": ["m.room.message"]}, limit=100)
    assert bodies(typed["chunk"]) == ["m3", "m2", "m1", "m0"] and "end" not in typed
    path = f"/rooms/{q(room)}/messages"
    assert error(alice.get(path + "?dir=sideways")) == (400, "M_INVALID_PARAM")
    assert error(alice.get(path + "?dir=b&from=zzz")) == (400, "M_INVALID_PARAM")
    assert error(alice.get(path + "?dir=b&limit=-1")) == (400, "M_INVALID_PARAM")
    assert error(alice.get(path + "?dir=b&filter=" + q("{bad"))) == (400, "M_BAD_JSON")
    assert error(eve.get(path + "?dir=b")) == (403, "M_FORBIDDEN")


def test_context_event_members_and_joined(homeserver: Homeserver) -> None:
    alice, bob, eve = (new_user(homeserver, p) for p in ("ca", "cb", "ce"))
    room = create_room(alice, preset="public_chat")
    join(bob, room)
    ids = [send(alice, room, f"c{i}") for i in range(5)]
    ctx = ok(alice.get(f"/rooms/{q(room)}/context/{q(ids[2])}?limit=2"))
    assert ctx["event"]["event_id"] == ids[2]
    assert [e["event_id"] for e in ctx["events_before"]] == [ids[1]]
    assert [e["event_id"] for e in ctx["events_after"]] == [ids[3]]
    assert {"start", "end", "state"} <= set(ctx)
    assert error(alice.get(f"/rooms/{q(room)}/context/{q('$nope')}")) == (404, "M_NOT_FOUND")
    event = ok(alice.get(f"/rooms/{q(room)}/event/{q(ids[0])}"))
    assert event["content"]["body"] == "c0" and event["room_id"] == room
    assert error(alice.get(f"/rooms/{q(room)}/event/{q('$nope')}")) == (404, "M_NOT_FOUND")
    at = sync(alice)["next_batch"]
    ok(bob.post(f"/rooms/{q(room)}/leave", {}))
    members = ok(alice.get(f"/rooms/{q(room)}/members"))["chunk"]
    assert {m["state_key"]: m["content"]["membership"] for m in members} == {
        alice.user_id: "join",
        bob.user_id: "leave",
    }
    only_join = ok(alice.get(f"/rooms/{q(room)}/members?membership=join"))["chunk"]
    assert [m["state_key"] for m in only_join] == [alice.user_id]
    not_join = ok(alice.get(f"/rooms/{q(room)}/members?not_membership=join"))["chunk"]
    assert [m["state_key"] for m in not_join] == [bob.user_id]
    then = ok(alice.get(f"/rooms/{q(room)}/members?at={q(at)}"))["chunk"]
    assert {m["state_key"]: m["content"]["membership"] for m in then}[bob.user_id] == "join"
    assert error(alice.get(f"/rooms/{q(room)}/members?membership=dancing")) == (400, "M_INVALID_PARAM")
    assert error(eve.get(f"/rooms/{q(room)}/members")) == (403, "M_FORBIDDEN")
    joined = ok(alice.get(f"/rooms/{q(room)}/joined_members"))["joined"]
    assert list(joined) == [alice.user_id] and set(joined[alice.user_id]) == {"display_name", "avatar_url"}
    assert error(eve.get(f"/rooms/{q(room)}/joined_members")) == (403, "M_FORBIDDEN")
    assert room in ok(alice.get("/joined_rooms"))["joined_rooms"]
    assert room not in ok(bob.get("/joined_rooms"))["joined_rooms"]


# -- legacy ------------------------------------------------------------------
def test_legacy_initial_sync_and_events(homeserver: Homeserver) -> None:
    alice = new_user(homeserver, "ea")
    room = create_room(alice, name="Legacy")
    send(alice, room, "one")
    snapshot = ok(alice.get("/_matrix/client/v3/initialSync?limit=5"))
    assert {"end", "rooms", "presence"} <= set(snapshot)
    info = next(r for r in snapshot["rooms"] if r["room_id"] == room)
    assert info["membership"] == "join" and bodies(info["messages"]["chunk"]) == ["one"]
    assert any(e["type"] == "m.room.name" for e in info["state"])
    send(alice, room, "two")
    stream = ok(alice.get(f"/_matrix/client/v3/events?from={q(snapshot['end'])}&timeout=0"))
    assert bodies(stream["chunk"]) == ["two"] and stream["chunk"][0]["user_id"] == alice.user_id
    assert {"start", "end"} <= set(stream)
    per_room = ok(alice.get(f"/_matrix/client/api/v1/rooms/{q(room)}/initialSync?limit=1"))
    assert per_room["room_id"] == room and bodies(per_room["messages"]["chunk"]) == ["two"]
    assert error(alice.get("/_matrix/client/v3/events?from=bogus&timeout=0")) == (400, "M_INVALID_PARAM")
    eve = new_user(homeserver, "ee")
    assert error(eve.get(f"/_matrix/client/v3/rooms/{q(room)}/initialSync")) == (403, "M_FORBIDDEN")
