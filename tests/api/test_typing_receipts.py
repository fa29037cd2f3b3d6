"""Typing, read receipts and read markers over real HTTP on both databases
and the worker deployment (tests/e2ee/deployments.py):
the endpoints, their errcodes, and their ephemeral events in /sync
(initial, incremental, long-poll), including typing expiry."""

import threading
import time
from typing import Any, Callable, Iterator

import pytest

from tests.accounts.client import Client, new_user, q, settled_sync, shared_room, unique
from tests.e2ee.deployments import DEPLOYMENTS, Deployment, deployment_fixture


@pytest.fixture(scope="module", params=DEPLOYMENTS)
def homeserver(request: pytest.FixtureRequest) -> Iterator[Deployment]:
    yield from deployment_fixture(request)


def send(client: Client, room: str) -> str:
    status, body = client.put(
        f"/rooms/{q(room)}/send/m.room.message/{unique('t')}", {"msgtype": "m.text", "body": "hi"}
    )
    assert status == 200, body
    return body["event_id"]


def ephemeral(sync: dict[str, Any], room: str) -> dict[str, Any]:
    events = sync["rooms"]["join"].get(room, {}).get("ephemeral", {}).get("events", [])
    return {e["type"]: e["content"] for e in events}


def sync_since(client: Client, since: str, timeout: int = 0) -> dict[str, Any]:
    status, body = client.get(f"/sync?since={q(since)}&timeout={timeout}")
    assert status == 200, body
    return body


def receipts_in(sync: dict[str, Any], room: str) -> dict[str, Any]:
    return ephemeral(sync, room).get("m.receipt", {})


def long_poll(client: Client, since: str, action: Callable[[], Any]) -> tuple[dict[str, Any], float]:
    """A /sync long-poll from `since` while `action` runs: (response, seconds taken)."""
    answer: dict[str, Any] = {}

    def poll() -> None:
        started = time.monotonic()
        answer["sync"] = sync_since(client, since, timeout=20000)
        answer["took"] = time.monotonic() - started

    poller = threading.Thread(target=poll)
    poller.start()
    time.sleep(0.5)
    action()
    poller.join(timeout=30)
    return answer["sync"], answer["took"]


def typing(client: Client, room: str, body: Any) -> tuple[int, dict[str, Any]]:
    return client.put(f"/rooms/{q(room)}/typing/{q(client.user_id)}", body)


# -- typing --------------------------------------------------------------------


def test_typing_on_and_off_in_sync(homeserver: Deployment) -> None:
    alice, bob = new_user(homeserver), new_user(homeserver)
    room = shared_room(alice, bob)
    status, initial = bob.get("/sync")
    assert status == 200 and "m.typing" not in ephemeral(initial, room)

    assert typing(alice, room, {"typing": True, "timeout": 30000}) == (200, {})
    on = settled_sync(bob, initial["next_batch"], lambda b: "m.typing" in ephemeral(b, room))
    assert ephemeral(on, room)["m.typing"] == {"user_ids": [alice.user_id]}
    # an initial sync shows who types now
    assert ephemeral(settled_sync(bob, None, lambda b: "m.typing" in ephemeral(b, room)), room)["m.typing"] == {
        "user_ids": [alice.user_id]
    }
    # nothing changed since: no typing event
    assert "m.typing" not in ephemeral(sync_since(bob, on["next_batch"]), room)

    assert typing(bob, room, {"typing": True}) == (200, {})
    both = settled_sync(
        alice, on["next_batch"], lambda b: len(ephemeral(b, room).get("m.typing", {}).get("user_ids", [])) == 2
    )
    assert sorted(ephemeral(both, room)["m.typing"]["user_ids"]) == sorted([alice.user_id, bob.user_id])

    assert typing(alice, room, {"typing": False}) == (200, {})
    off = settled_sync(
        bob, both["next_batch"], lambda b: ephemeral(b, room).get("m.typing") == {"user_ids": [bob.user_id]}
    )
    assert ephemeral(off, room)["m.typing"] == {"user_ids": [bob.user_id]}


def test_typing_long_poll_wakes_on_typing_and_on_expiry(homeserver: Deployment) -> None:
    alice, bob = new_user(homeserver), new_user(homeserver)
    room = shared_room(alice, bob)
    since = bob.get("/sync")[1]["next_batch"]

    woken, took = long_poll(bob, since, lambda: typing(alice, room, {"typing": True, "timeout": 1000}))
    assert took < 5 and ephemeral(woken, room)["m.typing"] == {"user_ids": [alice.user_id]}

    # the next long-poll ends when the 1 s timeout stops the typing
    started = time.monotonic()
    expired = sync_since(bob, woken["next_batch"], timeout=20000)
    assert time.monotonic() - started < 5
    assert ephemeral(expired, room)["m.typing"] == {"user_ids": []}
    assert "m.typing" not in ephemeral(bob.get("/sync")[1], room)


def test_typing_errors(homeserver: Deployment) -> None:
    alice, bob, carol = new_user(homeserver), new_user(homeserver), new_user(homeserver)
    room = shared_room(alice, bob)
    # someone else's typing state
    status, body = bob.put(f"/rooms/{q(room)}/typing/{q(alice.user_id)}", {"typing": True})
    assert (status, body["errcode"]) == (403, "M_FORBIDDEN")
    # not in the room
    status, body = typing(carol, room, {"typing": True})
    assert (status, body["errcode"]) == (403, "M_FORBIDDEN")
    for bad in ({}, {"typing": "yes"}, {"typing": True, "timeout": "soon"}):
        status, body = typing(alice, room, bad)
        assert (status, body["errcode"]) == (400, "M_BAD_JSON"), bad
    status, body = Client(homeserver.base_url).put(f"/rooms/{q(room)}/typing/{q(alice.user_id)}", {"typing": True})
    assert (status, body["errcode"]) == (401, "M_MISSING_TOKEN")
    # the r0 and api/v1 prefixes are served too
    for prefix in ("/_matrix/client/api/v1", "/_matrix/client/r0"):
        path = f"{prefix}/rooms/{q(room)}/typing/{q(alice.user_id)}"
        assert alice.request("PUT", path, {"typing": False}) == (200, {})


# -- receipts ------------------------------------------------------------------


def receipt(client: Client, room: str, rtype: str, event_id: str, body: Any = None) -> tuple[int, dict[str, Any]]:
    return client.post(f"/rooms/{q(room)}/receipt/{rtype}/{q(event_id)}", {} if body is None else body)


def test_read_receipts_public_private_and_threaded(homeserver: Deployment) -> None:
    alice, bob = new_user(homeserver), new_user(homeserver)
    room = shared_room(alice, bob)
    first, second = send(alice, room), send(alice, room)
    since_a = alice.get("/sync")[1]["next_batch"]
    since_b = bob.get("/sync")[1]["next_batch"]

    assert receipt(bob, room, "m.read", first) == (200, {})
    assert receipt(bob, room, "m.read.private", second) == (200, {})
    assert receipt(bob, room, "m.read", second, {"thread_id": "main"}) == (200, {})

    seen_by_alice = receipts_in(settled_sync(alice, since_a, lambda b: len(receipts_in(b, room)) == 2), room)
    assert set(seen_by_alice) == {first, second}
    assert set(seen_by_alice[first]["m.read"]) == {bob.user_id}
    assert isinstance(seen_by_alice[first]["m.read"][bob.user_id]["ts"], int)
    assert "thread_id" not in seen_by_alice[first]["m.read"][bob.user_id]
    # bob's private receipt is not shown to alice; his threaded one is
    assert list(seen_by_alice[second]) == ["m.read"]
    assert seen_by_alice[second]["m.read"][bob.user_id]["thread_id"] == "main"

    seen_by_bob = receipts_in(
        settled_sync(bob, since_b, lambda b: len(receipts_in(b, room).get(second, {})) == 2), room
    )
    assert set(seen_by_bob[second]) == {"m.read", "m.read.private"}

    # an initial sync carries the latest receipts; a moved receipt replaces the old one
    assert receipt(bob, room, "m.read", second) == (200, {})
    latest = receipts_in(settled_sync(alice, None, lambda b: first not in receipts_in(b, room)), room)
    assert first not in latest
    assert set(latest[second]["m.read"]) == {bob.user_id}


def test_receipt_long_poll_wakes(homeserver: Deployment) -> None:
    alice, bob = new_user(homeserver), new_user(homeserver)
    room = shared_room(alice, bob)
    event_id = send(alice, room)
    since = alice.get("/sync")[1]["next_batch"]
    woken, took = long_poll(alice, since, lambda: receipt(bob, room, "m.read", event_id))
    assert took < 10
    assert set(ephemeral(woken, room)["m.receipt"][event_id]["m.read"]) == {bob.user_id}


def test_receipt_errors(homeserver: Deployment) -> None:
    alice, carol = new_user(homeserver), new_user(homeserver)
    room = shared_room(alice)
    other_room = shared_room(carol)
    event_id = send(alice, room)
    status, body = receipt(alice, room, "m.unknown", event_id)
    assert (status, body["errcode"]) == (400, "M_INVALID_PARAM")
    for bad in ({"thread_id": ""}, {"thread_id": 5}, {"thread_id": "not-an-event"}):
        status, body = receipt(alice, room, "m.read", event_id, bad)
        assert (status, body["errcode"]) == (400, "M_INVALID_PARAM"), bad
    status, body = receipt(alice, room, "m.fully_read", event_id, {"thread_id": "main"})
    assert (status, body["errcode"]) == (400, "M_INVALID_PARAM")
    status, body = receipt(alice, room, "m.read", "$nope:test")
    assert (status, body["errcode"]) == (404, "M_NOT_FOUND")
    # an event of another room
    status, body = receipt(alice, room, "m.read", send(carol, other_room))
    assert (status, body["errcode"]) == (404, "M_NOT_FOUND")
    status, body = receipt(carol, room, "m.read", event_id)
    assert (status, body["errcode"]) == (403, "M_FORBIDDEN")
    status, body = alice.post(f"/rooms/{q(room)}/read_markers", {"m.fully_read": 7})
    assert (status, body["errcode"]) == (400, "M_INVALID_PARAM")
    status, body = carol.post(f"/rooms/{q(room)}/read_markers", {"m.fully_read": event_id})
    assert (status, body["errcode"]) == (403, "M_FORBIDDEN")


def test_fully_read_marker_is_room_account_data(homeserver: Deployment) -> None:
    alice, bob = new_user(homeserver), new_user(homeserver)
    room = shared_room(alice, bob)
    first, second = send(alice, room), send(alice, room)
    fully_read = f"/user/{q(bob.user_id)}/rooms/{q(room)}/account_data/m.fully_read"

    assert receipt(bob, room, "m.fully_read", first) == (200, {})
    assert bob.get(fully_read) == (200, {"event_id": first})
    since = alice.get("/sync")[1]["next_batch"]
    body = {"m.fully_read": second, "m.read": second, "m.read.private": first}
    assert bob.post(f"/rooms/{q(room)}/read_markers", body) == (200, {})
    assert bob.get(fully_read) == (200, {"event_id": second})
    # the marker is not a receipt: alice sees bob's m.read only
    seen_by_alice = receipts_in(settled_sync(alice, since, lambda b: second in receipts_in(b, room)), room)
    assert list(seen_by_alice) == [second] and list(seen_by_alice[second]) == ["m.read"]
    marker = {"type": "m.fully_read", "content": {"event_id": second}}

    def marker_and_receipt(b: dict[str, Any]) -> bool:
        account_data = b["rooms"]["join"].get(room, {}).get("account_data", {}).get("events", [])
        return marker in account_data and first in receipts_in(b, room)

    bob_sync = settled_sync(bob, None, marker_and_receipt)
    events = bob_sync["rooms"]["join"][room]["account_data"]["events"]
    assert marker in events
    assert list(ephemeral(bob_sync, room)["m.receipt"][first]) == ["m.read.private"]
