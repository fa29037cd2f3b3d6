"""Presence switched off (`presence.enabled: false`) and untracked
(`enabled: untracked`), on a monolith and on workers: disabled accepts
PUT but stores nothing, answers GET with offline and leaves the presence
section out of /sync; untracked serves what PUT sets and /sync does not
change it."""

from typing import Any, Iterator, Union

import pytest

from tests.accounts.client import FAST_BCRYPT, new_user, start_accounts_homeserver
from tests.api.test_presence import get_presence, presence_of, put_presence, shared_room
from tests.support.homeserver import Homeserver
from tests.support.topology import Topology, start_topology

Server = Union[Homeserver, Topology]


def _start(deployment: str, enabled: Any) -> Server:
    overrides = {"presence": {"enabled": enabled}}
    if deployment == "workers":
        return start_topology(config_overrides={**FAST_BCRYPT, **overrides})
    return start_accounts_homeserver(deployment, **overrides)


@pytest.fixture(scope="module", params=["sqlite", "workers"])
def disabled(request: pytest.FixtureRequest) -> Iterator[Server]:
    server = _start(request.param, False)
    yield server
    server.stop()


@pytest.fixture(scope="module", params=["postgres", "workers"])
def untracked(request: pytest.FixtureRequest) -> Iterator[Server]:
    server = _start(request.param, "untracked")
    yield server
    server.stop()


def test_disabled_presence_is_accepted_but_never_served(disabled: Server) -> None:
    alice, bob = new_user(disabled), new_user(disabled)
    shared_room(alice, bob)
    assert put_presence(alice, {"presence": "online", "status_msg": "hi"}) == (200, {})
    # bad input is still rejected
    assert put_presence(alice, {"presence": "dancing"})[0] == 400
    assert get_presence(alice, alice.user_id) == (200, {"presence": "offline"})
    assert get_presence(bob, alice.user_id) == (200, {"presence": "offline"})
    initial = bob.get("/sync")[1]
    assert "presence" not in initial and "rooms" in initial
    assert put_presence(alice, {"presence": "unavailable"}) == (200, {})
    status, body = bob.get(f"/sync?since={initial['next_batch']}&timeout=0")
    assert status == 200 and "presence" not in body
    if isinstance(disabled, Topology):
        assert disabled.query("SELECT count(*) FROM presence_state") == [(0,)]


def test_untracked_presence_follows_put_only(untracked: Server) -> None:
    alice, bob = new_user(untracked), new_user(untracked)
    shared_room(alice, bob)
    alice.get("/sync")
    assert get_presence(alice, alice.user_id)[1]["presence"] == "offline"
    assert put_presence(alice, {"presence": "online", "status_msg": "bridge"}) == (200, {})
    alice.get("/sync?set_presence=unavailable")
    body = get_presence(bob, alice.user_id)[1]
    assert body["presence"] == "online" and body["status_msg"] == "bridge"
    seen = presence_of(bob.get("/sync?set_presence=online")[1])
    assert seen[alice.user_id]["presence"] == "online" and bob.user_id not in seen
