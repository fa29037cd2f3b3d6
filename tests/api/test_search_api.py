"""POST /search over real HTTP: a homeserver process on either database, and a
worker deployment (tests/support/topology.py):
results, ranking and ordering, paging, context, state, groups, rooms the
user may not read, redactions, and the errcodes for bad input."""

from typing import Any, Iterator, Optional, Union

import pytest

from tests.accounts.client import Client, new_user, q, start_accounts_homeserver, unique
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


def send(client: Client, room_id: str, body: str) -> str:
    path = f"/rooms/{q(room_id)}/send/m.room.message/t{next(_txn)}"
    return ok(client.put(path, {"msgtype": "m.text", "body": body}))["event_id"]


def search(client: Client, next_batch: Optional[str] = None, **room_events: Any) -> dict:
    path = "/search" + (f"?next_batch={q(next_batch)}" if next_batch else "")
    return ok(client.post(path, {"search_categories": {"room_events": room_events}}))["search_categories"][
        "room_events"
    ]


def bodies(result: dict) -> list:
    return [r["result"]["content"].get("body") for r in result["results"]]


def test_search_finds_messages_in_joined_rooms_only(homeserver: Any) -> None:
    alice, bob = new_user(homeserver, "sa"), new_user(homeserver, "sb")
    word = unique("zebra")
    room = ok(alice.post("/createRoom", {"preset": "public_chat", "name": f"{word} room"}))["room_id"]
    hidden = ok(bob.post("/createRoom", {}))["room_id"]
    send(alice, room, f"the {word} crossed the road")
    send(bob, hidden, f"a hidden {word}")
    result = search(alice, search_term=word, keys=["content.body"])
    assert bodies(result) == [f"the {word} crossed the road"]
    assert result["count"] == 1 and result["highlights"] == [word]
    assert result["results"][0]["result"]["room_id"] == room
    assert isinstance(result["results"][0]["rank"], (int, float))
    with_name = search(alice, search_term=word)
    assert {r["result"]["type"] for r in with_name["results"]} == {"m.room.message", "m.room.name"}
    # bob sees his own room only until he joins alice's
    assert bodies(search(bob, search_term=word, keys=["content.body"])) == [f"a hidden {word}"]
    ok(bob.post(f"/rooms/{q(room)}/join", {}))
    assert len(search(bob, search_term=word, keys=["content.body"])["results"]) == 2
    # filters: rooms, senders
    assert bodies(search(bob, search_term=word, filter={"rooms": [hidden]})) == [f"a hidden {word}"]
    assert bodies(search(bob, search_term=word, filter={"not_rooms": [hidden], "types": ["m.room.message"]})) == [
        f"the {word} crossed the road"
    ]
    assert search(bob, search_term=word, filter={"senders": ["@nobody:localhost"]})["results"] == []


def test_search_paging_context_state_and_groups(homeserver: Any) -> None:
    alice = new_user(homeserver, "sp")
    word = unique("quokka")
    room = ok(alice.post("/createRoom", {"name": "Paging"}))["room_id"]
    send(alice, room, "just before")
    sent = [send(alice, room, f"{word} number {i}") for i in range(5)]
    first = search(alice, search_term=word, order_by="recent", filter={"limit": 3})
    assert [r["result"]["event_id"] for r in first["results"]] == sent[:1:-1]
    assert first["count"] == 5
    second = search(alice, first["next_batch"], search_term=word, order_by="recent", filter={"limit": 3})
    assert [r["result"]["event_id"] for r in second["results"]] == [sent[1], sent[0]]
    assert "next_batch" not in second
    ranked = search(alice, search_term=word, filter={"limit": 4})
    rest = search(alice, ranked["next_batch"], search_term=word, filter={"limit": 4})
    assert len(ranked["results"]) == 4 and len(rest["results"]) == 1
    assert {r["result"]["event_id"] for r in ranked["results"] + rest["results"]} == set(sent)

    detailed = search(
        alice,
        search_term=f"{word} number 0",
        order_by="recent",
        filter={"limit": 1},
        event_context={"before_limit": 1, "after_limit": 1, "include_profile": True},
        include_state=True,
        groupings={"group_by": [{"key": "room_id"}]},
    )
    context = detailed["results"][0]["context"]
    assert [e["content"]["body"] for e in context["events_after"]] == [f"{word} number 1"]
    assert alice.user_id in context["profile_info"]
    assert "start" in context and "end" in context
    assert any(e["type"] == "m.room.name" for e in detailed["state"][room])
    assert room in detailed["groups"]["room_id"]


def test_redacted_messages_leave_the_index(homeserver: Any) -> None:
    alice = new_user(homeserver, "sr")
    word = unique("oops")
    room = ok(alice.post("/createRoom", {}))["room_id"]
    event_id = send(alice, room, f"{word} wrong channel")
    assert len(search(alice, search_term=word)["results"]) == 1
    ok(alice.put(f"/rooms/{q(room)}/redact/{q(event_id)}/r{next(_txn)}", {"reason": "typo"}))
    result = search(alice, search_term=word)
    assert result["results"] == [] and result["count"] == 0


def test_search_errors(homeserver: Any) -> None:
    alice = new_user(homeserver, "se")
    assert error(alice.post("/search", {})) == (400, "M_BAD_JSON")
    assert error(alice.post("/search", {"search_categories": {"room_events": {}}})) == (400, "M_BAD_JSON")
    body = {"search_categories": {"room_events": {"search_term": "x", "order_by": "sideways"}}}
    assert error(alice.post("/search", body)) == (400, "M_INVALID_PARAM")
    body = {"search_categories": {"room_events": {"search_term": "x", "filter": {"rooms": "nope"}}}}
    assert error(alice.post("/search", body)) == (400, "M_BAD_JSON")
    body = {"search_categories": {"room_events": {"search_term": "x"}}}
    assert error(alice.post("/search?next_batch=bogus", body)) == (400, "M_UNKNOWN")
    assert error(alice.request("POST", "/search", b"{not json")) == (400, "M_NOT_JSON")
    assert error(Client(homeserver.base_url).post("/search", body)) == (401, "M_MISSING_TOKEN")
    # the legacy prefix serves it too
    status, _ = alice.post("/_matrix/client/r0/search", body)
    assert status == 200
