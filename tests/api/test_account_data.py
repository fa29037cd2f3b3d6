"""Account data and tags over real HTTP on both databases and the worker
deployment (tests/e2ee/deployments.py): the endpoints,
their errcodes, and their place in /sync (initial, incremental, long-poll)."""

import threading
import time
from typing import Any, Iterator

import pytest

from tests.accounts.client import Client, new_user, q, settled_sync
from tests.e2ee.deployments import DEPLOYMENTS, Deployment, deployment_fixture


@pytest.fixture(scope="module", params=DEPLOYMENTS)
def homeserver(request: pytest.FixtureRequest) -> Iterator[Deployment]:
    yield from deployment_fixture(request)


def new_room(client: Client) -> str:
    status, body = client.post("/createRoom", {})
    assert status == 200, body
    return body["room_id"]


def test_global_account_data_round_trip_and_errors(homeserver: Deployment) -> None:
    alice, bob = new_user(homeserver), new_user(homeserver)
    path = f"/user/{q(alice.user_id)}/account_data/org.example.settings"
    assert alice.get(path)[1]["errcode"] == "M_NOT_FOUND"
    assert alice.put(path, {"theme": "dark"}) == (200, {})
    assert alice.get(path) == (200, {"theme": "dark"})
    assert alice.put(path, {"theme": "light"}) == (200, {})
    assert alice.get(path) == (200, {"theme": "light"})
    # another user's data: 403 M_FORBIDDEN, read or write
    status, body = bob.get(path)
    assert (status, body["errcode"]) == (403, "M_FORBIDDEN")
    status, body = bob.put(path, {"x": 1})
    assert (status, body["errcode"]) == (403, "M_FORBIDDEN")
    # server-managed types: 405 M_BAD_JSON
    status, body = alice.put(f"/user/{q(alice.user_id)}/account_data/m.fully_read", {"event_id": "$x"})
    assert (status, body["errcode"]) == (405, "M_BAD_JSON")
    status, body = alice.request("PUT", path, b"{not json")
    assert (status, body["errcode"]) == (400, "M_NOT_JSON")
    status, body = alice.request("PUT", path, b"[1, 2]")
    assert (status, body["errcode"]) == (400, "M_BAD_JSON")
    status, body = Client(homeserver.base_url).get(path)
    assert (status, body["errcode"]) == (401, "M_MISSING_TOKEN")


def test_room_account_data_and_tags(homeserver: Deployment) -> None:
    alice = new_user(homeserver)
    room = new_room(alice)
    base = f"/user/{q(alice.user_id)}/rooms/{q(room)}"
    assert alice.put(f"{base}/account_data/org.example.pin", {"pinned": True}) == (200, {})
    assert alice.get(f"{base}/account_data/org.example.pin") == (200, {"pinned": True})
    status, body = alice.get(f"/user/{q(alice.user_id)}/rooms/not-a-room/account_data/x")
    assert (status, body["errcode"]) == (400, "M_INVALID_PARAM")

    assert alice.get(f"{base}/tags") == (200, {"tags": {}})
    assert alice.put(f"{base}/tags/m.favourite", {"order": 0.25}) == (200, {})
    assert alice.put(f"{base}/tags/u.work", {}) == (200, {})
    assert alice.get(f"{base}/tags") == (200, {"tags": {"m.favourite": {"order": 0.25}, "u.work": {}}})
    assert alice.delete(f"{base}/tags/u.work") == (200, {})
    assert alice.get(f"{base}/tags") == (200, {"tags": {"m.favourite": {"order": 0.25}}})
    status, body = alice.put(f"{base}/tags/bad", {"order": "first"})
    assert (status, body["errcode"]) == (400, "M_BAD_JSON")


def _account_data(sync: dict[str, Any]) -> dict[str, Any]:
    return {e["type"]: e["content"] for e in sync["account_data"]["events"]}


def _room_account_data(sync: dict[str, Any], room: str) -> dict[str, Any]:
    events = sync["rooms"]["join"].get(room, {}).get("account_data", {}).get("events", [])
    return {e["type"]: e["content"] for e in events}


def test_account_data_in_sync(homeserver: Deployment) -> None:
    alice = new_user(homeserver)
    room = new_room(alice)
    alice.put(f"/user/{q(alice.user_id)}/account_data/org.example.a", {"n": 1})
    alice.put(f"/user/{q(alice.user_id)}/rooms/{q(room)}/tags/m.lowpriority", {})
    initial = settled_sync(alice, None, lambda b: _room_account_data(b, room) != {})
    initial_data = _account_data(initial)
    # an initial sync also carries the server-managed push rules
    assert "global" in initial_data.pop("m.push_rules")
    assert initial_data == {"org.example.a": {"n": 1}}
    assert _room_account_data(initial, room) == {"m.tag": {"tags": {"m.lowpriority": {}}}}

    # incremental: only what changed since
    alice.put(f"/user/{q(alice.user_id)}/account_data/org.example.b", {"n": 2})
    incremental = settled_sync(alice, initial["next_batch"], lambda b: _account_data(b) != {})
    assert _account_data(incremental) == {"org.example.b": {"n": 2}}
    assert room not in incremental["rooms"]["join"]

    # a long-poll wakes on a room account data write, not at its timeout
    since = incremental["next_batch"]
    answer: dict[str, Any] = {}

    def long_poll() -> None:
        started = time.monotonic()
        answer["result"] = alice.get(f"/sync?since={q(since)}&timeout=20000")
        answer["took"] = time.monotonic() - started

    poller = threading.Thread(target=long_poll)
    poller.start()
    time.sleep(0.5)
    alice.put(f"/user/{q(alice.user_id)}/rooms/{q(room)}/account_data/org.example.pin", {"pinned": True})
    poller.join(timeout=30)
    status, woken = answer["result"]
    assert status == 200 and answer["took"] < 10
    assert _room_account_data(woken, room) == {"org.example.pin": {"pinned": True}}
    assert woken["rooms"]["join"][room]["timeline"]["events"] == []
