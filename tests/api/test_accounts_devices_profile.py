"""Accounts API over real HTTP: devices, password change, deactivation, profiles."""

import time
from typing import Callable, Iterator

import pytest

from tests.accounts.client import Client, start_accounts_homeserver, unique
from tests.support.homeserver import Homeserver


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def homeserver(request: pytest.FixtureRequest) -> Iterator[Homeserver]:
    hs = start_accounts_homeserver(request.param)
    yield hs
    hs.stop()


@pytest.fixture
def ours(homeserver: Homeserver) -> bool:
    """False against the reference Synapse: assertions guarded by it check
    choices of ours where the spec leaves room (errcodes, stricter validation)."""
    return not homeserver.is_reference_synapse()


@pytest.fixture
def alice(homeserver: Homeserver) -> Client:
    client = Client(homeserver.base_url)
    client.register(unique("alice"), initial_device_display_name="First")
    return client


def _device_ids(client: Client) -> list[str]:
    status, body = client.get("/devices")
    assert status == 200
    return sorted(d["device_id"] for d in body["devices"])


def test_get_and_rename_devices(alice: Client) -> None:
    status, device = alice.get(f"/devices/{alice.device_id}")
    assert status == 200
    assert (device["device_id"], device["display_name"]) == (alice.device_id, "First")
    # requests with the device's token record where it was last seen
    assert device["last_seen_ip"] == "127.0.0.1" and device["last_seen_ts"] > 0
    assert alice.put(f"/devices/{alice.device_id}", {"display_name": "Renamed"}) == (200, {})
    assert alice.get(f"/devices/{alice.device_id}")[1]["display_name"] == "Renamed"
    assert alice.put(f"/devices/{alice.device_id}", {}) == (200, {})
    assert alice.get(f"/devices/{alice.device_id}")[1]["display_name"] == "Renamed"

    status, body = alice.get("/devices/NOSUCHDEVICE")
    assert (status, body["errcode"]) == (404, "M_NOT_FOUND")
    status, body = alice.put("/devices/NOSUCHDEVICE", {"display_name": "x"})
    assert (status, body["errcode"]) == (404, "M_NOT_FOUND")
    assert alice.put(f"/devices/{alice.device_id}", {"display_name": 5})[1]["errcode"] == "M_BAD_JSON"
    assert alice.put(f"/devices/{alice.device_id}", b"{")[1]["errcode"] == "M_NOT_JSON"
    assert Client(alice.base_url).get("/devices")[1]["errcode"] == "M_MISSING_TOKEN"


def test_devices_of_other_users_are_invisible(alice: Client) -> None:
    bob = Client(alice.base_url)
    bob.register(unique("bob"))
    status, body = bob.get(f"/devices/{alice.device_id}")
    assert (status, body["errcode"]) == (404, "M_NOT_FOUND")
    assert _device_ids(bob) == [bob.device_id]


def test_delete_device_requires_password(alice: Client) -> None:
    other = Client(alice.base_url)
    other.login(alice.user_id)
    assert _device_ids(alice) == sorted([alice.device_id, other.device_id])

    status, body = alice.delete(f"/devices/{other.device_id}")
    assert status == 401
    assert body["flows"] == [{"stages": ["m.login.password"]}]
    session = body["session"]
    # a wrong password answers 401 with the flows again and an errcode
    status, body = alice.delete(f"/devices/{other.device_id}", {"auth": alice.password_auth(session, "wrong")})
    assert status == 401 and body["errcode"] == "M_FORBIDDEN" and body["session"] == session
    status, body = alice.delete(f"/devices/{other.device_id}", {"auth": alice.password_auth(session)})
    assert (status, body) == (200, {})
    assert _device_ids(alice) == [alice.device_id]
    assert other.get("/account/whoami")[1]["errcode"] == "M_UNKNOWN_TOKEN"


def test_uia_with_someone_elses_password_is_refused(alice: Client) -> None:
    mallory = Client(alice.base_url)
    mallory.register(unique("mallory"))
    status, body = mallory.delete(f"/devices/{mallory.device_id}")
    auth = alice.password_auth(body["session"])
    status, body = mallory.delete(f"/devices/{mallory.device_id}", {"auth": auth})
    assert (status, body["errcode"]) == (403, "M_FORBIDDEN")
    assert mallory.get("/account/whoami")[0] == 200


def test_delete_devices_bulk(alice: Client) -> None:
    extra = [Client(alice.base_url) for _ in range(2)]
    for c in extra:
        c.login(alice.user_id)
    doomed = [c.device_id for c in extra]
    assert alice.post("/delete_devices", {})[1]["errcode"] == "M_MISSING_PARAM"
    assert alice.post("/delete_devices", {"devices": "x"})[1]["errcode"] == "M_BAD_JSON"
    status, body = alice.post("/delete_devices", {"devices": doomed})
    assert status == 401 and body["flows"] == [{"stages": ["m.login.password"]}]
    status, body = alice.post("/delete_devices", {"devices": doomed, "auth": alice.password_auth(body["session"])})
    assert (status, body) == (200, {})
    assert _device_ids(alice) == [alice.device_id]


def test_change_password_logs_out_other_devices(alice: Client) -> None:
    other = Client(alice.base_url)
    other.login(alice.user_id)
    status, body = alice.post("/account/password", {"new_password": "new-pw"})
    assert status == 401 and body["flows"] == [{"stages": ["m.login.password"]}]
    status, body = alice.post(
        "/account/password", {"new_password": "new-pw", "auth": alice.password_auth(body["session"])}
    )
    assert (status, body) == (200, {})
    assert alice.get("/account/whoami")[0] == 200
    assert other.get("/account/whoami")[1]["errcode"] == "M_UNKNOWN_TOKEN"
    assert _device_ids(alice) == [alice.device_id]
    status, body = Client(alice.base_url).post(
        "/login", {"type": "m.login.password", "user": alice.user_id, "password": "secret-pw"}
    )
    assert (status, body["errcode"]) == (403, "M_FORBIDDEN")
    Client(alice.base_url).login(alice.user_id, "new-pw")


def test_change_password_keeping_devices(alice: Client) -> None:
    other = Client(alice.base_url)
    other.login(alice.user_id)
    status, body = alice.post("/account/password", {"new_password": "pw2", "logout_devices": False})
    status, body = alice.post(
        "/account/password",
        {"new_password": "pw2", "logout_devices": False, "auth": alice.password_auth(body["session"])},
    )
    assert status == 200
    assert other.get("/account/whoami")[0] == 200


def test_change_password_bad_input(alice: Client, ours: bool) -> None:
    assert alice.post("/account/password", {"new_password": 1})[1]["errcode"] == "M_BAD_JSON"
    assert alice.post("/account/password", {"new_password": "x", "logout_devices": "no"})[1]["errcode"] == (
        "M_BAD_JSON"
    )
    status, body = Client(alice.base_url).post("/account/password", {"new_password": "x"})
    assert status == 401
    if ours:  # Synapse offers an email reset flow to token-less requests
        assert body["errcode"] == "M_MISSING_TOKEN"
    if ours:  # Synapse answers 500 here
        status, body = alice.post("/account/password", {})
        status, body = alice.post("/account/password", {"auth": alice.password_auth(body["session"])})
        assert (status, body["errcode"]) == (400, "M_MISSING_PARAM")


def test_deactivate(alice: Client, ours: bool) -> None:
    name = alice.user_id
    status, body = alice.post("/account/deactivate", {})
    assert status == 401 and body["flows"] == [{"stages": ["m.login.password"]}]
    status, body = alice.post("/account/deactivate", {"auth": alice.password_auth(body["session"])})
    assert status == 200 and body["id_server_unbind_result"] == "success"
    assert alice.get("/account/whoami")[1]["errcode"] == "M_UNKNOWN_TOKEN"
    status, body = Client(alice.base_url).post(
        "/login", {"type": "m.login.password", "user": name, "password": "secret-pw"}
    )
    assert status == 403
    if ours:  # Synapse says M_FORBIDDEN once the password is gone
        assert body["errcode"] == "M_USER_DEACTIVATED"
    localpart = name[1:].split(":")[0]
    status, body = alice.get(f"/register/available?username={localpart}")
    assert (status, body["errcode"]) == (400, "M_USER_IN_USE")


def test_profile(alice: Client, ours: bool) -> None:
    uid = alice.user_id
    localpart = uid[1:].split(":")[0]
    anon = Client(alice.base_url)
    # registration sets the localpart as the initial display name
    assert anon.get(f"/profile/{uid}") == (200, {"displayname": localpart})
    assert alice.put(f"/profile/{uid}/displayname", {"displayname": "Alice A."}) == (200, {})
    assert alice.put(f"/profile/{uid}/avatar_url", {"avatar_url": "mxc://example.org/abc"}) == (200, {})
    assert anon.get(f"/profile/{uid}") == (200, {"displayname": "Alice A.", "avatar_url": "mxc://example.org/abc"})
    assert anon.get(f"/profile/{uid}/displayname") == (200, {"displayname": "Alice A."})
    assert anon.get(f"/profile/{uid}/avatar_url") == (200, {"avatar_url": "mxc://example.org/abc"})
    assert anon.get(f"/_matrix/client/r0/profile/{uid}/displayname")[0] == 200
    # clearing a field removes it from the profile
    assert alice.put(f"/profile/{uid}/avatar_url", {"avatar_url": ""}) == (200, {})
    status, body = anon.get(f"/profile/{uid}/avatar_url")
    if ours:  # the spec's 404 for an unset field; Synapse answers 200 {}
        assert (status, body["errcode"]) == (404, "M_NOT_FOUND")
    assert alice.delete(f"/profile/{uid}/displayname") == (200, {})
    # an empty profile is "no profile information": 404
    status, body = anon.get(f"/profile/{uid}")
    assert (status, body["errcode"]) == (404, "M_NOT_FOUND")


def test_custom_profile_fields(alice: Client, ours: bool) -> None:
    uid = alice.user_id
    anon = Client(alice.base_url)
    assert alice.put(f"/profile/{uid}/m.tz", {"m.tz": "Europe/London"}) == (200, {})
    assert alice.put(f"/profile/{uid}/org.example.pets", {"org.example.pets": ["cat", {"dog": 2}]}) == (200, {})
    assert anon.get(f"/profile/{uid}/m.tz") == (200, {"m.tz": "Europe/London"})
    status, profile = anon.get(f"/profile/{uid}")
    assert status == 200
    assert profile["m.tz"] == "Europe/London" and profile["org.example.pets"] == ["cat", {"dog": 2}]
    assert "displayname" in profile
    assert alice.delete(f"/profile/{uid}/org.example.pets") == (200, {})
    assert alice.delete(f"/profile/{uid}/org.example.pets") == (200, {})
    assert anon.get(f"/profile/{uid}/org.example.pets")[1]["errcode"] == "M_NOT_FOUND"

    if ours:  # the spec's key grammar and m.tz type; Synapse accepts these
        assert alice.put(f"/profile/{uid}/m.tz", {"m.tz": 1})[1]["errcode"] == "M_INVALID_PARAM"
        for bad_key in ("Upper.case", "nodots", "trailing.", "x.y-z"):
            status, body = alice.put(f"/profile/{uid}/{bad_key}", {bad_key: 1})
            assert (status, body["errcode"]) == (400, "M_INVALID_PARAM"), bad_key
    long_key = "a." + "b" * 260
    assert alice.put(f"/profile/{uid}/{long_key}", {long_key: 1})[1]["errcode"] == "M_KEY_TOO_LARGE"
    status, body = alice.put(f"/profile/{uid}/org.example.big", {"org.example.big": "x" * 70_000})
    assert (status, body["errcode"]) == (400, "M_PROFILE_TOO_LARGE")
    assert alice.put(f"/profile/{uid}/org.example.x", {"other": 1})[1]["errcode"] == "M_MISSING_PARAM"
    bob = Client(alice.base_url)
    bob.register(unique("bobf"))
    assert bob.put(f"/profile/{uid}/m.tz", {"m.tz": "UTC"})[1]["errcode"] == "M_FORBIDDEN"
    assert bob.delete(f"/profile/{uid}/m.tz")[1]["errcode"] == "M_FORBIDDEN"


def test_profile_errors(alice: Client, homeserver: Homeserver, ours: bool) -> None:
    uid = alice.user_id
    bob = Client(alice.base_url)
    bob.register(unique("bobp"))
    ghost = f"@{unique('ghost')}:{homeserver.server_name}"
    for path in (f"/profile/{ghost}", f"/profile/{ghost}/displayname", f"/profile/{ghost}/avatar_url"):
        status, body = alice.get(path)
        assert status == 404, path
        if ours:  # Synapse says M_UNKNOWN for the whole profile
            assert body["errcode"] == "M_NOT_FOUND", path
    assert alice.get("/profile/not-a-user-id")[0] == 400
    status, body = bob.put(f"/profile/{uid}/displayname", {"displayname": "hacked"})
    assert body["errcode"] == "M_FORBIDDEN"
    if ours:  # the spec's 403; Synapse answers 400
        assert status == 403
    status, body = Client(alice.base_url).put(f"/profile/{uid}/displayname", {"displayname": "x"})
    assert (status, body["errcode"]) == (401, "M_MISSING_TOKEN")
    assert alice.put(f"/profile/{uid}/displayname", {})[1]["errcode"] == "M_MISSING_PARAM"
    assert alice.put(f"/profile/{uid}/displayname", {"displayname": 3})[1]["errcode"] == "M_INVALID_PARAM"
    assert alice.put(f"/profile/{uid}/avatar_url", {"avatar_url": ["x"]})[1]["errcode"] == "M_INVALID_PARAM"
    too_long = (
        alice.put(f"/profile/{uid}/displayname", {"displayname": "x" * 257}),
        alice.put(f"/profile/{uid}/avatar_url", {"avatar_url": "x" * 1001}),
    )
    assert [status for status, _ in too_long] == [400, 400]
    if ours:  # Synapse says M_UNKNOWN
        assert [body["errcode"] for _, body in too_long] == ["M_INVALID_PARAM", "M_INVALID_PARAM"]
    assert alice.put(f"/profile/{uid}/displayname", b"{{")[1]["errcode"] == "M_NOT_JSON"
    assert alice.put(f"/profile/{uid}/displayname", b"[]")[1]["errcode"] == "M_BAD_JSON"
    assert alice.get(f"/profile/{uid}/displayname")[1]["displayname"] != "hacked"


def _member_content(client: Client, room_id: str, user_id: str) -> dict:
    status, state = client.get(f"/rooms/{room_id}/state")
    assert status == 200, state
    (member,) = [e for e in state if e["type"] == "m.room.member" and e["state_key"] == user_id]
    return member["content"]


def _eventually(check: Callable[[], bool], timeout: float = 10.0) -> None:
    """Waits for `check()`: Synapse sends profile and leave events in the
    background, so tests that also run against it must not expect them at once."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.1)


def test_profile_change_reaches_joined_rooms(alice: Client) -> None:
    status, body = alice.post("/createRoom", {})
    assert status == 200, body
    room_id = body["room_id"]
    assert alice.put(f"/profile/{alice.user_id}/displayname", {"displayname": "Alice in Rooms"}) == (200, {})
    assert alice.put(f"/profile/{alice.user_id}/avatar_url", {"avatar_url": "mxc://example.org/av"}) == (200, {})
    expected = {"membership": "join", "displayname": "Alice in Rooms", "avatar_url": "mxc://example.org/av"}
    _eventually(lambda: _member_content(alice, room_id, alice.user_id) == expected)


def test_deactivation_leaves_rooms(alice: Client) -> None:
    bob = Client(alice.base_url)
    bob.register(unique("bobd"))
    status, body = bob.post("/createRoom", {"preset": "public_chat"})
    room_id = body["room_id"]
    assert alice.post(f"/join/{room_id}", {})[0] == 200
    status, body = alice.post("/account/deactivate", {})
    status, body = alice.post("/account/deactivate", {"auth": alice.password_auth(body["session"])})
    assert status == 200
    _eventually(lambda: _member_content(bob, room_id, alice.user_id)["membership"] == "leave")
