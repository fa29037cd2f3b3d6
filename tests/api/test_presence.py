"""Presence over real HTTP on both databases and on workers (where
/presence goes to the `stream_writer` worker and /sync to generic
workers): PUT and GET with their errcodes and rate limit, /sync's
set_presence, the presence section (initial, incremental, filtered), a
woken long-poll, and activity bringing an idle user back online."""

import json
import threading
import time
from typing import Any, Callable, Iterator, Union

import pytest

from tests.accounts.client import FAST_BCRYPT, Client, new_user, start_accounts_homeserver, unique
from tests.api.test_typing_receipts import q, shared_room
from tests.support.homeserver import Homeserver
from tests.support.topology import Topology, start_topology

Server = Union[Homeserver, Topology]
# a burst the other tests stay under; the rate-limit test goes past it
BURST = 8
# activity is forwarded at most every ACTIVITY_MS per user and process (10 s by default)
ACTIVITY_MS = 500
OVERRIDES = {
    "rc_presence": {"per_user": {"per_second": 0.01, "burst_count": BURST}},
    "presence": {"_timeouts": {"activity_report_ms": ACTIVITY_MS}},
}


@pytest.fixture(scope="module", params=["sqlite", "postgres", "workers"])
def server(request: pytest.FixtureRequest) -> Iterator[Server]:
    if request.param == "workers":
        hs: Server = start_topology(config_overrides={**FAST_BCRYPT, **OVERRIDES})
    else:
        hs = start_accounts_homeserver(request.param, **OVERRIDES)
    yield hs
    hs.stop()


def put_presence(client: Client, body: Any, prefix: str = "/_matrix/client/v3") -> tuple[int, Any]:
    return client.put(f"{prefix}/presence/{q(client.user_id)}/status", body)  # type: ignore[arg-type]


def get_presence(client: Client, user_id: str, prefix: str = "/_matrix/client/v3") -> tuple[int, Any]:
    return client.get(f"{prefix}/presence/{q(user_id)}/status")


def sync(client: Client, query: str = "") -> dict[str, Any]:
    status, body = client.get(f"/sync{query}")
    assert status == 200, body
    return body


def presence_of(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """sender -> content of the m.presence events of a sync."""
    events = body.get("presence", {}).get("events", [])
    assert all(e["type"] == "m.presence" for e in events)
    return {e["sender"]: e["content"] for e in events}


def wait_until(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.1)


def test_put_and_get_own_presence(server: Server) -> None:
    alice = new_user(server)
    assert put_presence(alice, {"presence": "online", "status_msg": "coffee"}) == (200, {})
    status, body = get_presence(alice, alice.user_id)
    assert status == 200, body
    assert body["presence"] == "online" and body["status_msg"] == "coffee" and body["currently_active"] is True
    assert 0 <= body["last_active_ago"] < 10_000
    # no status_msg clears it; unavailable is not currently active
    assert put_presence(alice, {"presence": "unavailable"}, prefix="/_matrix/client/r0") == (200, {})
    status, body = get_presence(alice, alice.user_id, prefix="/_matrix/client/api/v1")
    assert status == 200 and body["presence"] == "unavailable"
    assert "status_msg" not in body and "currently_active" not in body
    assert put_presence(alice, {"presence": "offline"}, prefix="/_matrix/client/unstable") == (200, {})
    assert get_presence(alice, alice.user_id)[1]["presence"] == "offline"


def test_put_errors(server: Server) -> None:
    alice, bob = new_user(server), new_user(server)
    status, body = alice.put(f"/presence/{q(bob.user_id)}/status", {"presence": "online"})
    assert (status, body["errcode"]) == (403, "M_FORBIDDEN")
    for bad in ({"presence": "busy"}, {"presence": 1}, {}, {"presence": "online", "status_msg": 5}):
        status, body = put_presence(alice, bad)
        assert (status, body["errcode"]) == (400, "M_INVALID_PARAM"), bad
    status, body = Client(server.base_url).put(f"/presence/{q(alice.user_id)}/status", {"presence": "online"})
    assert status == 401


def test_put_is_rate_limited(server: Server) -> None:
    alice = new_user(server)
    for _ in range(BURST):
        assert put_presence(alice, {"presence": "online"})[0] == 200
    status, body = put_presence(alice, {"presence": "online"})
    assert (status, body["errcode"]) == (429, "M_LIMIT_EXCEEDED") and body["retry_after_ms"] > 0


def test_get_needs_a_shared_room(server: Server) -> None:
    alice, bob = new_user(server), new_user(server)
    assert put_presence(alice, {"presence": "online", "status_msg": "hi"})[0] == 200
    status, body = get_presence(bob, alice.user_id)
    assert (status, body["errcode"]) == (403, "M_FORBIDDEN")
    status, body = get_presence(bob, f"@{unique('nobody')}:{server.server_name}")
    assert (status, body["errcode"]) == (404, "M_NOT_FOUND")
    shared_room(alice, bob)
    status, body = get_presence(bob, alice.user_id)
    assert status == 200 and body["presence"] == "online" and body["status_msg"] == "hi"


def test_set_presence_on_sync(server: Server) -> None:
    quiet, plain, away = new_user(server), new_user(server), new_user(server)
    sync(quiet, "?set_presence=offline")
    assert get_presence(quiet, quiet.user_id)[1]["presence"] == "offline"
    sync(plain)
    body = get_presence(plain, plain.user_id)[1]
    assert body["presence"] == "online" and body["currently_active"] is True
    sync(away, "?set_presence=unavailable")
    assert get_presence(away, away.user_id)[1]["presence"] == "unavailable"
    status, body = away.get("/sync?set_presence=dancing")
    assert (status, body["errcode"]) == (400, "M_INVALID_PARAM")


def test_presence_in_sync(server: Server) -> None:
    alice, bob, stranger = new_user(server), new_user(server), new_user(server)
    shared_room(alice, bob)
    assert put_presence(alice, {"presence": "online", "status_msg": "here"})[0] == 200

    initial = sync(bob)
    seen = presence_of(initial)
    assert seen[alice.user_id]["presence"] == "online" and seen[alice.user_id]["status_msg"] == "here"
    assert seen[bob.user_id]["presence"] == "online"  # the initial sync marked bob online
    assert alice.user_id not in presence_of(sync(stranger))

    assert put_presence(alice, {"presence": "unavailable", "status_msg": "away"})[0] == 200
    # (a long-poll: on workers, bob's sync worker hears of the write shortly after)
    changed = sync(bob, f"?since={q(initial['next_batch'])}&timeout=10000")
    assert presence_of(changed)[alice.user_id] == {
        "presence": "unavailable", "status_msg": "away",
        "last_active_ago": presence_of(changed)[alice.user_id]["last_active_ago"],
    }  # fmt: skip
    # nothing changed since: no presence events
    assert presence_of(sync(bob, f"?since={q(changed['next_batch'])}")) == {}


def test_new_peers_see_each_others_presence(server: Server) -> None:
    alice, bob = new_user(server), new_user(server)
    room = shared_room(alice)
    assert put_presence(alice, {"presence": "online", "status_msg": "a"})[0] == 200
    assert put_presence(bob, {"presence": "online", "status_msg": "b"})[0] == 200
    alice_since, bob_since = sync(alice)["next_batch"], sync(bob)["next_batch"]
    assert bob.post(f"/rooms/{q(room)}/join")[0] == 200
    # the join makes them peers: each incremental sync tells of the other,
    # whose presence did not change since
    # (long-polls: on workers, the sync worker hears of the join shortly after)
    seen_by_bob = presence_of(sync(bob, f"?since={q(bob_since)}&timeout=10000"))
    assert seen_by_bob[alice.user_id]["status_msg"] == "a"
    seen_by_alice = presence_of(sync(alice, f"?since={q(alice_since)}&timeout=10000"))
    assert seen_by_alice[bob.user_id]["status_msg"] == "b"


def test_presence_filter(server: Server) -> None:
    alice, bob, carol = new_user(server), new_user(server), new_user(server)
    shared_room(alice, bob, carol)
    for client in (alice, carol):
        assert put_presence(client, {"presence": "online"})[0] == 200

    def filtered(presence_filter: dict[str, Any]) -> dict[str, Any]:
        return presence_of(sync(bob, "?set_presence=offline&filter=" + q(json.dumps({"presence": presence_filter}))))

    assert set(filtered({})) == {alice.user_id, carol.user_id}
    assert set(filtered({"senders": [carol.user_id]})) == {carol.user_id}
    assert set(filtered({"not_senders": [carol.user_id]})) == {alice.user_id}
    assert filtered({"types": []}) == {} and filtered({"not_types": ["m.presence"]}) == {}
    assert len(filtered({"limit": 1})) == 1


def test_presence_change_wakes_a_long_poll(server: Server) -> None:
    alice, bob = new_user(server), new_user(server)
    shared_room(alice, bob)
    since = sync(bob)["next_batch"]
    answer: dict[str, Any] = {}

    def poll() -> None:
        started = time.monotonic()
        answer["sync"] = sync(bob, f"?since={q(since)}&timeout=20000")
        answer["took"] = time.monotonic() - started

    poller = threading.Thread(target=poll)
    poller.start()
    time.sleep(0.5)
    assert put_presence(alice, {"presence": "online", "status_msg": "wake up"})[0] == 200
    poller.join(timeout=30)
    assert answer["took"] < 10
    assert presence_of(answer["sync"])[alice.user_id]["status_msg"] == "wake up"


def test_activity_brings_an_idle_user_back_online(server: Server) -> None:
    alice = new_user(server)
    room = shared_room(alice)
    assert put_presence(alice, {"presence": "unavailable"})[0] == 200
    # creating the room was activity: the next is forwarded once ACTIVITY_MS passed
    time.sleep(ACTIVITY_MS / 1000 + 0.2)
    status, _ = alice.put(f"/rooms/{q(room)}/send/m.room.message/{unique('t')}", {"msgtype": "m.text", "body": "hi"})
    assert status == 200
    # activity is forwarded to the writer in the background
    wait_until(lambda: get_presence(alice, alice.user_id)[1]["presence"] == "online")


def test_put_on_a_worker_reaches_the_writer(server: Server) -> None:
    """On workers, a PUT taken by a generic worker is forwarded to the
    presence writer; a monolith takes it itself."""
    alice = new_user(server)
    on_worker = Client(server.url("generic1") if isinstance(server, Topology) else server.base_url, alice.token)
    status, body = on_worker.put(f"/presence/{q(alice.user_id)}/status", {"presence": "online", "status_msg": "w"})
    assert status == 200, body
    # answered once the taking process can read the write
    assert get_presence(on_worker, alice.user_id)[1]["status_msg"] == "w"
