"""/relations and /threads over real HTTP (a monolith on either database, and a worker
deployment from tests/support/topology.py), bundled aggregations in /messages,
/context, event by id and /sync, and the errcodes."""

import json
from typing import Any, Iterator, Optional, Union

import pytest

from tests.accounts.client import Client, new_user, q, start_accounts_homeserver
from tests.support.homeserver import Homeserver
from tests.support.topology import Topology, start_topology


@pytest.fixture(scope="module", params=["sqlite", "postgres", "workers"])
def homeserver(request: pytest.FixtureRequest) -> Iterator[Union[Homeserver, Topology]]:
    """A monolith on either database, or a worker deployment behind nginx."""
    server = start_topology() if request.param == "workers" else start_accounts_homeserver(request.param)
    yield server
    server.stop()


def ok(result: tuple[int, Any]) -> Any:
    status, body = result
    assert status == 200, body
    return body


def error(result: tuple[int, Any]) -> tuple[int, Optional[str]]:
    status, body = result
    return status, body.get("errcode")


_txn = iter(range(10**9))


def send(client: Client, room_id: str, body: str, event_type: str = "m.room.message", **content: Any) -> str:
    path = f"/rooms/{q(room_id)}/send/{event_type}/t{next(_txn)}"
    return ok(client.put(path, {"msgtype": "m.text", "body": body, **content}))["event_id"]


def rel(rel_type: str, parent: str, **extra: Any) -> dict:
    return {"m.relates_to": {"rel_type": rel_type, "event_id": parent, **extra}}


def v1(path: str) -> str:
    return "/_matrix/client/v1" + path


def ids(chunk: list) -> list:
    return [e["event_id"] for e in chunk]


def test_relations_paging_and_filters(homeserver: Any) -> None:
    alice = new_user(homeserver, "ra")
    room = ok(alice.post("/createRoom", {}))["room_id"]
    root = send(alice, room, "root")
    replies = [send(alice, room, f"reply {i}", **rel("m.thread", root)) for i in range(3)]
    reaction = send(alice, room, "", "m.reaction", **rel("m.annotation", root, key="+1"))
    base = v1(f"/rooms/{q(room)}/relations/{q(root)}")

    everything = ok(alice.get(base))
    assert ids(everything["chunk"]) == [reaction, *reversed(replies)]
    page = ok(alice.get(f"{base}/m.thread?limit=2"))
    assert ids(page["chunk"]) == [replies[2], replies[1]]
    more = ok(alice.get(f"{base}/m.thread?limit=2&from={q(page['next_batch'])}"))
    assert ids(more["chunk"]) == [replies[0]] and "next_batch" not in more
    assert ids(ok(alice.get(f"{base}/m.thread?dir=f"))["chunk"]) == replies
    assert ids(ok(alice.get(f"{base}/m.annotation/m.reaction"))["chunk"]) == [reaction]
    assert ok(alice.get(f"{base}/m.annotation/m.room.message"))["chunk"] == []
    nested = send(alice, room, "nested", **rel("m.reference", replies[0]))
    deep = ok(alice.get(f"{base}?recurse=true&limit=10"))
    assert nested in ids(deep["chunk"]) and deep["recursion_depth"] >= 1
    # the unstable prefix serves it too
    assert ok(alice.get(f"/_matrix/client/unstable/rooms/{q(room)}/relations/{q(root)}"))["chunk"]


def test_relations_errors(homeserver: Any) -> None:
    alice, mallory = new_user(homeserver, "rb"), new_user(homeserver, "rm")
    room = ok(alice.post("/createRoom", {}))["room_id"]
    root = send(alice, room, "root")
    base = v1(f"/rooms/{q(room)}/relations/{q(root)}")
    assert error(mallory.get(base)) == (403, "M_FORBIDDEN")
    assert error(alice.get(v1(f"/rooms/{q(room)}/relations/{q('$unknown')}"))) == (404, "M_NOT_FOUND")
    assert error(alice.get(f"{base}?dir=sideways")) == (400, "M_INVALID_PARAM")
    assert error(alice.get(f"{base}?limit=lots")) == (400, "M_INVALID_PARAM")
    assert error(alice.get(f"{base}?from=garbage")) == (400, "M_INVALID_PARAM")
    assert error(Client(homeserver.base_url).get(base)) == (401, "M_MISSING_TOKEN")
    assert error(mallory.get(v1(f"/rooms/{q(room)}/threads"))) == (403, "M_FORBIDDEN")
    assert error(alice.get(v1(f"/rooms/{q(room)}/threads?include=mine"))) == (400, "M_INVALID_PARAM")


def test_threads_listing(homeserver: Any) -> None:
    alice, bob = new_user(homeserver, "ta"), new_user(homeserver, "tb")
    room = ok(alice.post("/createRoom", {"preset": "public_chat"}))["room_id"]
    ok(bob.post(f"/rooms/{q(room)}/join", {}))
    one, two = send(alice, room, "thread one"), send(bob, room, "thread two")
    send(bob, room, "in two", **rel("m.thread", two))
    send(bob, room, "in one", **rel("m.thread", one))
    base = v1(f"/rooms/{q(room)}/threads")
    page = ok(alice.get(f"{base}?limit=1"))
    assert ids(page["chunk"]) == [one]
    rest = ok(alice.get(f"{base}?limit=1&from={q(page['next_batch'])}"))
    assert ids(rest["chunk"]) == [two] and "next_batch" not in rest
    assert ids(ok(alice.get(f"{base}?include=participated"))["chunk"]) == [one]
    bundle = page["chunk"][0]["unsigned"]["m.relations"]["m.thread"]
    assert bundle["count"] == 1 and bundle["latest_event"]["content"]["body"] == "in one"
    assert bundle["current_user_participated"] is True


def test_bundled_aggregations_in_reading_endpoints(homeserver: Any) -> None:
    alice = new_user(homeserver, "ba")
    room = ok(alice.post("/createRoom", {}))["room_id"]
    root = send(alice, room, "root")
    reply = send(alice, room, "reply", **rel("m.thread", root))
    edit = send(
        alice, room, "* root!", **{"m.new_content": {"msgtype": "m.text", "body": "root!"}}, **rel("m.replace", root)
    )
    ref = send(alice, room, "ref", **rel("m.reference", root))

    def check(event: dict) -> None:
        relations = event["unsigned"]["m.relations"]
        assert relations["m.thread"]["latest_event"]["event_id"] == reply
        assert relations["m.thread"]["count"] == 1
        assert relations["m.replace"]["event_id"] == edit
        assert relations["m.reference"] == {"chunk": [{"event_id": ref}]}

    messages = ok(alice.get(f"/rooms/{q(room)}/messages?dir=b&limit=20"))["chunk"]
    check(next(e for e in messages if e["event_id"] == root))
    check(ok(alice.get(f"/rooms/{q(room)}/event/{q(root)}")))
    check(ok(alice.get(f"/rooms/{q(room)}/context/{q(root)}?limit=2"))["event"])
    sync_filter = q(json.dumps({"room": {"timeline": {"limit": 20}}}))
    timeline = ok(alice.get(f"/sync?filter={sync_filter}"))["rooms"]["join"][room]["timeline"]["events"]
    check(next(e for e in timeline if e["event_id"] == root))
    # redacting the edit and the reference drops them from the bundle
    for event_id in (edit, ref):
        ok(alice.put(f"/rooms/{q(room)}/redact/{q(event_id)}/r{next(_txn)}", {}))
    relations = ok(alice.get(f"/rooms/{q(room)}/event/{q(root)}"))["unsigned"]["m.relations"]
    assert set(relations) == {"m.thread"}
