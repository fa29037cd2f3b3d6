"""User directory search over real HTTP, against a monolith on each database
and a worker deployment: who is visible with search_all_users off and on,
profile changes, limit/limited, the disabled directory and the errcodes."""

import time
import urllib.parse
from typing import Any, Callable, Iterator, Protocol

import pytest

from tests.accounts.client import FAST_BCRYPT, Client, new_user, start_accounts_homeserver, unique
from tests.support.topology import start_topology

# monoliths on each database, and a worker deployment (PostgreSQL, Redis,
# nginx) whose directory updater runs on a generic worker
MODES = ["sqlite", "postgres", "workers"]
# the updater runs every second; allow for a loaded machine
WAIT_S = 20.0


class _Server(Protocol):
    base_url: str

    def stop(self) -> None: ...


def _server(mode: str, **directory: Any) -> Iterator[_Server]:
    overrides: dict[str, Any] = {"user_directory": directory} if directory else {}
    hs: _Server
    if mode == "workers":
        overrides.update(FAST_BCRYPT, update_user_directory_from_worker="generic2")
        hs = start_topology(config_overrides=overrides)
    else:
        hs = start_accounts_homeserver(mode, **overrides)
    yield hs
    hs.stop()


@pytest.fixture(scope="module", params=MODES)
def homeserver(request: pytest.FixtureRequest) -> Iterator[_Server]:
    yield from _server(request.param)


@pytest.fixture(scope="module", params=MODES)
def all_users_homeserver(request: pytest.FixtureRequest) -> Iterator[_Server]:
    yield from _server(request.param, search_all_users=True)


@pytest.fixture(scope="module", params=MODES)
def disabled_homeserver(request: pytest.FixtureRequest) -> Iterator[_Server]:
    yield from _server(request.param, enabled=False, search_all_users=True)


def search(client: Client, term: str, **extra: Any) -> dict[str, Any]:
    status, body = client.post("/user_directory/search", {"search_term": term, **extra})
    assert status == 200, body
    return body


def found(client: Client, term: str) -> list[str]:
    return [r["user_id"] for r in search(client, term)["results"]]


def eventually(check: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT_S
    while not check():
        assert time.monotonic() < deadline, "the directory did not catch up"
        time.sleep(0.2)


def create_room(client: Client, **body: Any) -> str:
    status, result = client.post("/createRoom", body)
    assert status == 200, result
    return result["room_id"]


def join(client: Client, room_id: str) -> None:
    status, body = client.post(f"/join/{urllib.parse.quote(room_id)}", {})
    assert status == 200, body


def set_displayname(client: Client, name: str) -> None:
    assert client.user_id is not None
    status, body = client.put(f"/profile/{urllib.parse.quote(client.user_id)}/displayname", {"displayname": name})
    assert status == 200, body


def test_shared_and_public_rooms_are_visible(homeserver: _Server) -> None:
    tag = unique("vis")
    alice, bob, carol, dave = (new_user(homeserver, f"{tag}{n}") for n in ("alice", "bob", "carol", "dave"))
    private = create_room(alice, preset="private_chat", invite=[bob.user_id])
    join(bob, private)
    public = create_room(carol, preset="public_chat")
    join(dave, public)
    eventually(lambda: found(alice, f"{tag}bob") == [bob.user_id])
    eventually(lambda: found(bob, f"{tag}dave") == [dave.user_id])  # a public room's member
    assert found(carol, f"{tag}bob") == []  # shares no room with bob
    assert found(dave, f"{tag}alice") == []
    # bob leaves the only room he shared with alice
    status, body = bob.post(f"/rooms/{urllib.parse.quote(private)}/leave", {})
    assert status == 200, body
    eventually(lambda: found(alice, f"{tag}bob") == [])


def test_profile_changes_reach_the_directory(homeserver: _Server) -> None:
    tag = unique("prof")
    alice, bob = new_user(homeserver, f"{tag}alice"), new_user(homeserver, f"{tag}bob")
    room = create_room(alice, preset="public_chat")
    join(bob, room)
    name = f"Zebulon {tag}"
    set_displayname(bob, name)
    eventually(lambda: found(alice, "zebul") != [] and found(alice, "zebul")[0] == bob.user_id)
    [result] = [r for r in search(alice, f"ZEBULON {tag}")["results"]]
    assert result == {"user_id": bob.user_id, "display_name": name}


def test_limit_and_limited(homeserver: _Server) -> None:
    tag = unique("lim")
    owner = new_user(homeserver, f"{tag}owner")
    room = create_room(owner, preset="public_chat")
    for n in range(3):
        join(new_user(homeserver, f"{tag}member{n}"), room)
    eventually(lambda: len(found(owner, f"{tag}member")) == 3)
    body = search(owner, f"{tag}member", limit=2)
    assert len(body["results"]) == 2 and body["limited"] is True
    body = search(owner, f"{tag}member", limit=3)
    assert len(body["results"]) == 3 and body["limited"] is False


def test_errors(homeserver: _Server) -> None:
    alice = new_user(homeserver, "uderr")
    for bad in ({}, {"search_term": 5}, {"search_term": "x", "limit": "5"}, {"search_term": "x", "limit": 1.5}):
        status, body = alice.post("/user_directory/search", bad)
        assert (status, body["errcode"]) == (400, "M_BAD_JSON"), bad
    status, body = alice.request("POST", "/user_directory/search", b"{nope")
    assert (status, body["errcode"]) == (400, "M_NOT_JSON")
    status, body = Client(homeserver.base_url).post("/user_directory/search", {"search_term": "x"})
    assert (status, body["errcode"]) == (401, "M_MISSING_TOKEN")
    status, body = alice.request("POST", "/_matrix/client/r0/user_directory/search", {"search_term": "x"})
    assert status == 200 and body["results"] == []


def test_search_all_users_finds_users_in_no_room(all_users_homeserver: _Server) -> None:
    tag = unique("all")
    alice, bob = new_user(all_users_homeserver, f"{tag}alice"), new_user(all_users_homeserver, f"{tag}bob")
    eventually(lambda: found(alice, f"{tag}bob") == [bob.user_id])
    assert found(alice, f"{tag}alice") == []  # never the searcher
    set_displayname(bob, f"Quentin {tag}")
    eventually(lambda: found(alice, "quentin") == [bob.user_id])


def test_search_all_users_off_hides_users_in_no_room(homeserver: _Server) -> None:
    tag = unique("none")
    alice, bob = new_user(homeserver, f"{tag}alice"), new_user(homeserver, f"{tag}bob")
    room = create_room(alice, preset="public_chat")
    carol = new_user(homeserver, f"{tag}carol")
    join(carol, room)
    # once carol (registered after bob) is visible, the updater has seen bob too
    eventually(lambda: found(alice, f"{tag}carol") == [carol.user_id])
    assert found(alice, f"{tag}bob") == []
    join(bob, room)
    eventually(lambda: found(alice, f"{tag}bob") == [bob.user_id])


def test_disabled_directory_returns_nothing(disabled_homeserver: _Server) -> None:
    tag = unique("off")
    alice, bob = new_user(disabled_homeserver, f"{tag}alice"), new_user(disabled_homeserver, f"{tag}bob")
    room = create_room(alice, preset="public_chat")
    join(bob, room)
    time.sleep(2)  # the updater (not running here) would have caught up by now
    assert search(alice, f"{tag}bob") == {"results": [], "limited": False}
