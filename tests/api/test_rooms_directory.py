"""Room aliases, directory visibility and /publicRooms over real HTTP (both databases)."""

from typing import Iterator

import pytest

from tests.accounts.client import Client, new_user, q, start_accounts_homeserver, unique
from tests.support.homeserver import Homeserver


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def homeserver(request: pytest.FixtureRequest) -> Iterator[Homeserver]:
    hs = start_accounts_homeserver(request.param, room_list_publication_rules=[{"action": "allow"}])
    yield hs
    hs.stop()


def create_room(client: Client, **body: object) -> str:
    status, result = client.post("/createRoom", body)
    assert status == 200, result
    return result["room_id"]


def test_aliases(homeserver: Homeserver) -> None:
    alice, bob = new_user(homeserver, "aa"), new_user(homeserver, "ab")
    room_id = create_room(alice)
    alias = f"#{unique('al')}:{homeserver.server_name}"
    path = f"/directory/room/{q(alias)}"

    status, body = alice.get(path)
    assert (status, body["errcode"]) == (404, "M_NOT_FOUND")
    assert alice.put(path, {"room_id": room_id}) == (200, {})
    assert alice.get(path) == (200, {"room_id": room_id, "servers": [homeserver.server_name]})
    status, body = alice.put(path, {"room_id": room_id})
    assert (status, body["errcode"]) == (409, "M_UNKNOWN")
    status, body = alice.put(f"/directory/room/{q('#x:other.example')}", {"room_id": room_id})
    assert (status, body["errcode"]) == (400, "M_INVALID_PARAM")
    status, body = alice.put(f"/directory/room/{q('not-an-alias')}", {"room_id": room_id})
    assert (status, body["errcode"]) == (400, "M_INVALID_PARAM")
    status, body = alice.put(path, {})
    assert (status, body["errcode"]) == (400, "M_MISSING_PARAM")
    status, body = alice.request("PUT", path, b"{{")
    assert (status, body["errcode"]) == (400, "M_NOT_JSON")

    assert alice.get(f"/rooms/{q(room_id)}/aliases") == (200, {"aliases": [alias]})
    status, body = bob.get(f"/rooms/{q(room_id)}/aliases")
    assert (status, body["errcode"]) == (403, "M_FORBIDDEN")

    status, body = bob.delete(path)
    assert (status, body["errcode"]) == (403, "M_FORBIDDEN")
    assert alice.delete(path) == (200, {})
    status, body = alice.delete(path)
    assert (status, body["errcode"]) == (404, "M_NOT_FOUND")


def test_directory_visibility_and_public_rooms(homeserver: Homeserver) -> None:
    alice, bob = new_user(homeserver, "da"), new_user(homeserver, "db")
    marker = unique("marker")
    room_id = create_room(alice, name=f"Room {marker}", topic="a topic")
    path = f"/directory/list/room/{q(room_id)}"
    assert alice.get(path) == (200, {"visibility": "private"})
    status, body = bob.put(path, {"visibility": "public"})
    assert (status, body["errcode"]) == (403, "M_FORBIDDEN")
    assert alice.put(path, {"visibility": "public"}) == (200, {})
    assert alice.get(path) == (200, {"visibility": "public"})
    status, body = alice.get(f"/directory/list/room/{q('!missing:localhost')}")
    assert (status, body["errcode"]) == (404, "M_NOT_FOUND")

    second = create_room(bob, visibility="public", preset="public_chat", name=f"Other {marker}")
    status, body = alice.post("/publicRooms", {"filter": {"generic_search_term": marker.upper()}})
    assert status == 200
    assert {e["room_id"] for e in body["chunk"]} == {room_id, second}
    entry = next(e for e in body["chunk"] if e["room_id"] == room_id)
    assert entry["name"] == f"Room {marker}" and entry["topic"] == "a topic"
    assert entry["num_joined_members"] == 1 and entry["world_readable"] is False
    assert entry["join_rule"] == "invite" and entry["guest_can_join"] is True

    status, page = alice.post("/publicRooms", {"limit": 1, "filter": {"generic_search_term": marker}})
    assert len(page["chunk"]) == 1 and "next_batch" in page
    status, page2 = alice.post(
        "/publicRooms", {"limit": 1, "since": page["next_batch"], "filter": {"generic_search_term": marker}}
    )
    assert {page["chunk"][0]["room_id"], page2["chunk"][0]["room_id"]} == {room_id, second}

    status, listing = Client(homeserver.base_url).get("/publicRooms?limit=100")
    assert status == 200 and room_id in {e["room_id"] for e in listing["chunk"]}
    assert listing["total_room_count_estimate"] >= 2
    status, body = alice.get("/publicRooms?limit=abc")
    assert (status, body["errcode"]) == (400, "M_INVALID_PARAM")
    status, body = alice.post("/publicRooms", {"limit": "ten"})
    assert (status, body["errcode"]) == (400, "M_INVALID_PARAM")
    status, body = alice.get("/publicRooms?since=bogus")
    assert (status, body["errcode"]) == (400, "M_INVALID_PARAM")

    assert alice.put(path, {"visibility": "private"}) == (200, {})
    status, body = alice.post("/publicRooms", {"filter": {"generic_search_term": marker}})
    assert [e["room_id"] for e in body["chunk"]] == [second]
