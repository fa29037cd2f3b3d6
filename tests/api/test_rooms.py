"""Rooms API over real HTTP against a homeserver process (both databases):
createRoom, membership, send, state, redaction and their errcodes."""

from typing import Iterator

import pytest

from tests.accounts.client import Client, new_user, q, start_accounts_homeserver, unique
from tests.support.homeserver import Homeserver


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def homeserver(request: pytest.FixtureRequest) -> Iterator[Homeserver]:
    hs = start_accounts_homeserver(request.param)
    yield hs
    hs.stop()


def create_room(client: Client, **body: object) -> str:
    status, result = client.post("/createRoom", body)
    assert status == 200, result
    return result["room_id"]


def send(client: Client, room_id: str, txn_id: str, body: str = "hello") -> tuple[int, dict]:
    return client.put(f"/rooms/{q(room_id)}/send/m.room.message/{txn_id}", {"msgtype": "m.text", "body": body})


@pytest.mark.parametrize("version", ["1", "10", "11", "12"])
@pytest.mark.parametrize("preset", ["private_chat", "trusted_private_chat", "public_chat"])
def test_create_room_in_each_preset_and_version(homeserver: Homeserver, preset: str, version: str) -> None:
    alice = new_user(homeserver, "creator")
    room_id = create_room(alice, preset=preset, room_version=version, name="A room")
    assert room_id.startswith("!")
    assert (":" not in room_id) == (version == "12")
    status, create = alice.get(f"/rooms/{q(room_id)}/state/m.room.create")
    assert status == 200 and create["room_version"] == version
    status, rules = alice.get(f"/rooms/{q(room_id)}/state/m.room.join_rules/")
    assert rules == {"join_rule": "public" if preset == "public_chat" else "invite"}
    status, name = alice.get(
        f"/rooms/{q(room_id)}/state/m.room.name",
    )
    assert name == {"name": "A room"}


def test_create_room_errors(homeserver: Homeserver) -> None:
    alice = new_user(homeserver, "badcreate")
    status, body = alice.post("/createRoom", {"room_version": "1000"})
    assert (status, body["errcode"]) == (400, "M_UNSUPPORTED_ROOM_VERSION")
    status, body = alice.request("POST", "/createRoom", b"{not json")
    assert (status, body["errcode"]) == (400, "M_NOT_JSON")
    status, body = alice.request("POST", "/createRoom", b"[1, 2]")
    assert (status, body["errcode"]) == (400, "M_BAD_JSON")
    status, body = alice.post("/createRoom", {"room_alias_name": "has space"})
    assert (status, body["errcode"]) == (400, "M_INVALID_PARAM")
    alias_name = unique("alias")
    create_room(alice, room_alias_name=alias_name)
    status, body = alice.post("/createRoom", {"room_alias_name": alias_name})
    assert (status, body["errcode"]) == (400, "M_ROOM_IN_USE")
    status, body = Client(homeserver.base_url).post("/createRoom", {})
    assert (status, body["errcode"]) == (401, "M_MISSING_TOKEN")


def test_membership_flow(homeserver: Homeserver) -> None:
    alice, bob = new_user(homeserver, "ma"), new_user(homeserver, "mb")
    alias_name = unique("joinme")
    room_id = create_room(alice, preset="private_chat", room_alias_name=alias_name)
    alias = f"#{alias_name}:{homeserver.server_name}"
    base = f"/rooms/{q(room_id)}"

    status, body = bob.post(f"/join/{q(alias)}")
    assert (status, body["errcode"]) == (403, "M_FORBIDDEN")
    assert alice.post(f"{base}/invite", {"user_id": bob.user_id})[0] == 200
    status, body = bob.post(f"/join/{q(alias)}")
    assert (status, body) == (200, {"room_id": room_id})
    status, member = alice.get(f"{base}/state/m.room.member/{q(bob.user_id)}")
    assert member["membership"] == "join"

    assert alice.post(f"{base}/kick", {"user_id": bob.user_id, "reason": "out"})[0] == 200
    status, member = alice.get(f"{base}/state/m.room.member/{q(bob.user_id)}")
    assert member == {"membership": "leave", "reason": "out"}
    assert alice.post(f"{base}/ban", {"user_id": bob.user_id})[0] == 200
    status, body = bob.post(f"{base}/join")
    assert (status, body["errcode"]) == (403, "M_FORBIDDEN")
    assert alice.post(f"{base}/unban", {"user_id": bob.user_id})[0] == 200
    assert alice.get(f"{base}/state/m.room.member/{q(bob.user_id)}")[1]["membership"] == "leave"

    # forget: not while joined; fine once left
    status, body = alice.post(f"{base}/forget")
    assert (status, body["errcode"]) == (400, "M_UNKNOWN")
    assert bob.post(f"{base}/forget")[0] == 200

    # invite, then the invitee rejects it by leaving
    assert alice.post(f"{base}/invite", {"user_id": bob.user_id})[0] == 200
    assert bob.post(f"{base}/leave")[0] == 200
    assert alice.get(f"{base}/state/m.room.member/{q(bob.user_id)}")[1]["membership"] == "leave"

    status, body = alice.post(f"{base}/invite", {})
    assert (status, body["errcode"]) == (400, "M_MISSING_PARAM")
    status, body = bob.post("/rooms/!unknown:localhost/join")
    assert (status, body["errcode"]) == (404, "M_NOT_FOUND")
    status, body = bob.post(f"/join/{q('#missing:' + homeserver.server_name)}")
    assert (status, body["errcode"]) == (404, "M_NOT_FOUND")


def test_knock(homeserver: Homeserver) -> None:
    alice, bob = new_user(homeserver, "ka"), new_user(homeserver, "kb")
    room_id = create_room(
        alice,
        preset="private_chat",
        room_version="10",
        initial_state=[{"type": "m.room.join_rules", "content": {"join_rule": "knock"}}],
    )
    status, body = bob.post(f"/knock/{q(room_id)}", {"reason": "please"})
    assert (status, body) == (200, {"room_id": room_id})
    member = alice.get(f"/rooms/{q(room_id)}/state/m.room.member/{q(bob.user_id)}")[1]
    assert member == {"membership": "knock", "reason": "please"}
    # the knock is retracted by leaving
    assert bob.post(f"/rooms/{q(room_id)}/leave")[0] == 200


def test_send_and_txn_idempotency(homeserver: Homeserver) -> None:
    alice, bob = new_user(homeserver, "sa"), new_user(homeserver, "sb")
    room_id = create_room(alice, preset="public_chat")
    status, first = send(alice, room_id, "t1")
    assert status == 200 and first["event_id"].startswith("$")
    assert send(alice, room_id, "t1", body="again") == (200, first)
    assert send(alice, room_id, "t2")[1] != first

    status, body = send(bob, room_id, "t1")
    assert (status, body["errcode"]) == (403, "M_FORBIDDEN")
    status, body = send(alice, "!nowhere:localhost", "t3")
    assert (status, body["errcode"]) == (404, "M_NOT_FOUND")
    status, body = alice.request("PUT", f"/rooms/{q(room_id)}/send/m.room.message/t4", b"nope")
    assert (status, body["errcode"]) == (400, "M_NOT_JSON")
    status, body = alice.request("PUT", f"/rooms/{q(room_id)}/send/m.room.message/t5", b'"a string"')
    assert (status, body["errcode"]) == (400, "M_BAD_JSON")
    status, body = alice.put(f"/rooms/{q(room_id)}/send/m.room.member/t6", {"membership": "join"})
    assert status == 400
    status, body = alice.put(f"/rooms/{q(room_id)}/send/m.room.message/t7", {"body": "x" * 70000})
    assert (status, body["errcode"]) == (413, "M_TOO_LARGE")


def test_state_get_and_put(homeserver: Homeserver) -> None:
    alice, bob = new_user(homeserver, "sta"), new_user(homeserver, "stb")
    room_id = create_room(alice, preset="private_chat")
    base = f"/rooms/{q(room_id)}"
    status, body = alice.put(f"{base}/state/m.room.topic", {"topic": "first"})
    assert status == 200 and body["event_id"].startswith("$")
    status, body = alice.put(f"{base}/state/org.example.thing/some%2Fkey", {"v": 1})
    assert status == 200
    assert alice.get(f"{base}/state/org.example.thing/some%2Fkey") == (200, {"v": 1})
    assert alice.get(f"{base}/state/m.room.topic") == (200, {"topic": "first"})
    status, event = alice.get(f"{base}/state/m.room.topic?format=event")
    assert (
        event["type"] == "m.room.topic" and event["content"] == {"topic": "first"} and event["sender"] == alice.user_id
    )

    status, body = alice.get(f"{base}/state/m.room.avatar")
    assert (status, body["errcode"]) == (404, "M_NOT_FOUND")
    status, body = bob.get(f"{base}/state/m.room.topic")
    assert (status, body["errcode"]) == (403, "M_FORBIDDEN")
    status, body = bob.put(f"{base}/state/m.room.topic", {"topic": "mine"})
    assert (status, body["errcode"]) == (403, "M_FORBIDDEN")
    status, body = alice.put(f"{base}/state/m.room.name", {"name": 12})
    assert (status, body["errcode"]) == (400, "M_BAD_JSON")

    status, state = alice.get(f"{base}/state")
    assert status == 200 and isinstance(state, list)
    types = {(e["type"], e["state_key"]) for e in state}
    assert ("m.room.create", "") in types and ("m.room.member", alice.user_id) in types
    assert ("org.example.thing", "some/key") in types

    # membership through the state API follows the membership rules
    status, body = alice.put(f"{base}/state/m.room.member/{q(bob.user_id)}", {"membership": "invite"})
    assert status == 200, body
    assert alice.get(f"{base}/state/m.room.member/{q(bob.user_id)}")[1]["membership"] == "invite"
    status, body = alice.put(f"{base}/state/m.room.member/{q(bob.user_id)}", {"membership": "join"})
    assert (status, body["errcode"]) == (403, "M_FORBIDDEN")


def test_redaction(homeserver: Homeserver) -> None:
    alice, bob = new_user(homeserver, "ra"), new_user(homeserver, "rb")
    room_id = create_room(alice, preset="public_chat", room_version="11")
    base = f"/rooms/{q(room_id)}"
    assert bob.post(f"{base}/join")[0] == 200
    topic_id = alice.put(f"{base}/state/m.room.topic", {"topic": "to be redacted"})[1]["event_id"]
    status, body = bob.put(f"{base}/redact/{q(topic_id)}/r1", {"reason": "no"})
    assert (status, body["errcode"]) == (403, "M_FORBIDDEN")
    status, first = alice.put(f"{base}/redact/{q(topic_id)}/r1", {"reason": "spam"})
    assert status == 200
    assert alice.put(f"{base}/redact/{q(topic_id)}/r1", {"reason": "spam"}) == (200, first)
    # the redacted state event's content is pruned when fetched
    assert alice.get(f"{base}/state/m.room.topic") == (200, {})
    status, event = alice.get(f"{base}/state/m.room.topic?format=event")
    assert event["unsigned"]["redacted_because"]["event_id"] == first["event_id"]
    # a user redacts their own message
    message_id = send(bob, room_id, "m1")[1]["event_id"]
    assert bob.put(f"{base}/redact/{q(message_id)}/r2", {})[0] == 200


def test_message_rate_limit(homeserver_factory_rooms: Homeserver) -> None:
    alice = new_user(homeserver_factory_rooms, "rl")
    room_id = create_room(alice)
    statuses = [send(alice, room_id, f"rl{i}") for i in range(30)]
    limited = [body for status, body in statuses if status == 429]
    assert limited and limited[0]["errcode"] == "M_LIMIT_EXCEEDED" and limited[0]["retry_after_ms"] > 0


@pytest.fixture(scope="module")
def homeserver_factory_rooms() -> Iterator[Homeserver]:
    """A server with the default (strict) rate limits, except for registration."""
    hs = start_accounts_homeserver(
        "sqlite",
        ratelimited=True,
        rc_registration={"per_second": 100, "burst_count": 100},
        rc_room_creation={"per_second": 100, "burst_count": 100},
    )
    yield hs
    hs.stop()
