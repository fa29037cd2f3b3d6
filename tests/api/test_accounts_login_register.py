"""Accounts API over real HTTP: versions, capabilities, register (UIA),
register/available, login, logout, whoami and access token errors."""

from typing import Iterator

import pytest

from tests.accounts.client import Client, start_accounts_homeserver, unique
from tests.support.homeserver import Homeserver


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def homeserver(request: pytest.FixtureRequest) -> Iterator[Homeserver]:
    hs = start_accounts_homeserver(request.param)
    yield hs
    hs.stop()


@pytest.fixture
def client(homeserver: Homeserver) -> Client:
    return Client(homeserver.base_url)


@pytest.fixture
def ours(homeserver: Homeserver) -> bool:
    """False against the reference Synapse: assertions guarded by it check
    choices of ours where the spec leaves room (errcodes, stricter validation)."""
    return not homeserver.is_reference_synapse()


def test_versions(client: Client, ours: bool) -> None:
    status, body = client.get("/_matrix/client/versions")
    assert status == 200
    assert "v1.1" in body["versions"] and "r0.6.1" in body["versions"]
    assert isinstance(body["unstable_features"], dict)
    if ours:
        assert body["unstable_features"] == {}


def test_capabilities(client: Client, ours: bool) -> None:
    assert client.get("/capabilities")[1]["errcode"] == "M_MISSING_TOKEN"
    client.register(unique("caps"))
    status, body = client.get("/capabilities")
    assert status == 200
    caps = body["capabilities"]
    assert caps["m.change_password"] == {"enabled": True}
    assert caps["m.set_displayname"] == {"enabled": True}
    assert caps["m.set_avatar_url"] == {"enabled": True}
    assert caps["m.profile_fields"]["enabled"] is True
    if ours:  # no third-party identifiers here; Synapse supports them
        assert caps["m.3pid_changes"] == {"enabled": False}
    versions = caps["m.room_versions"]
    assert versions["default"] in versions["available"]
    stable = {str(v): "stable" for v in range(1, 13)}
    assert stable.items() <= versions["available"].items()
    if ours:
        assert versions["available"] == stable


def test_register_uia_flow(client: Client, homeserver: Homeserver) -> None:
    name = unique("reg")
    status, body = client.post(
        "/register", {"username": name, "password": "pw-one", "initial_device_display_name": "Phone"}
    )
    assert status == 401
    assert body["flows"] == [{"stages": ["m.login.dummy"]}]
    assert body["params"] == {} and isinstance(body["session"], str)
    # the final step may omit the parameters: the session remembers them
    status, body = client.post("/register", {"auth": {"type": "m.login.dummy", "session": body["session"]}})
    assert status == 200, body
    assert body["user_id"] == f"@{name}:{homeserver.server_name}"
    assert body["access_token"] and body["device_id"]
    client.token = body["access_token"]
    status, whoami = client.get("/account/whoami")
    assert status == 200
    assert whoami == {"user_id": body["user_id"], "device_id": body["device_id"], "is_guest": False}
    assert client.get(f"/devices/{body['device_id']}")[1]["display_name"] == "Phone"
    # the password given in the first step works
    Client(homeserver.base_url).login(name, "pw-one")


def test_register_username_is_lowercased_and_taken(client: Client) -> None:
    name = unique("Case")
    body = client.register(name)
    assert body["user_id"].startswith(f"@{name.lower()}:")
    status, err = Client(client.base_url).post("/register", {"username": name.lower(), "password": "x"})
    assert (status, err["errcode"]) == (400, "M_USER_IN_USE")


def test_register_inhibit_login_and_device_id(client: Client) -> None:
    status, body = client.post("/register", {"username": unique("inh"), "password": "pw", "inhibit_login": True})
    status, body = client.post("/register", {"auth": {"type": "m.login.dummy", "session": body["session"]}})
    assert status == 200
    assert "access_token" not in body and "device_id" not in body and body["user_id"]

    other = Client(client.base_url)
    body = other.register(unique("dev"), device_id="MYDEVICE")
    assert body["device_id"] == "MYDEVICE"


def test_register_without_username_gets_generated_id(client: Client) -> None:
    status, body = client.post("/register", {"password": "pw"})
    status, body = client.post("/register", {"auth": {"type": "m.login.dummy", "session": body["session"]}})
    assert status == 200 and body["user_id"].startswith("@")


def test_register_bad_input(client: Client, ours: bool) -> None:
    assert client.post("/register", b"{not json")[1]["errcode"] == "M_NOT_JSON"
    status, body = client.post("/register", b"[1]")
    assert (status, body["errcode"]) == (400, "M_BAD_JSON")
    for bad in ("", "has space", "caf\u00e9", "_reserved", "x" * 300, *((17,) if ours else ())):
        status, body = client.post("/register", {"username": bad, "password": "pw"})
        assert (status, body["errcode"]) == (400, "M_INVALID_USERNAME"), bad
    status, body = client.post("/register", {"username": unique("np"), "password": 12})
    assert status == 400
    if ours:  # Synapse says M_UNKNOWN
        assert body["errcode"] == "M_BAD_JSON"
    if ours:  # Synapse checks these only after user-interactive auth
        for bad_option in ({"inhibit_login": "yes"}, {"device_id": 5}, {"initial_device_display_name": []}):
            status, body = client.post("/register", {"username": unique("opt"), "password": "pw", **bad_option})
            assert (status, body["errcode"]) == (400, "M_BAD_JSON"), bad_option
    # no password at all: UIA first, then M_MISSING_PARAM
    status, body = client.post("/register", {"username": unique("np")})
    assert status == 401
    status, body = client.post("/register", {"auth": {"type": "m.login.dummy", "session": body["session"]}})
    assert (status, body["errcode"]) == (400, "M_MISSING_PARAM")
    status, body = client.post("/register", {"auth": {"type": "m.login.dummy", "session": "nope"}})
    assert status == 400
    status, body = client.post("/register?kind=guest", {})
    assert status == 403
    if ours:  # the spec's example errcode; Synapse says M_UNKNOWN
        assert body["errcode"] == "M_FORBIDDEN"


def test_register_session_cannot_switch_endpoint(client: Client, ours: bool) -> None:
    status, body = client.post("/register", {"username": unique("sw"), "password": "pw"})
    session = body["session"]
    user = Client(client.base_url)
    user.register(unique("sw2"))
    status, body = user.post("/delete_devices", {"devices": [], "auth": user.password_auth(session)})
    assert status == 403
    if ours:
        assert body["errcode"] == "M_FORBIDDEN"


def test_register_available(client: Client) -> None:
    name = unique("avail")
    assert client.get(f"/register/available?username={name}") == (200, {"available": True})
    client.register(name)
    status, body = client.get(f"/register/available?username={name}")
    assert (status, body["errcode"]) == (400, "M_USER_IN_USE")
    status, body = client.get("/register/available?username=BAD%20NAME")
    assert (status, body["errcode"]) == (400, "M_INVALID_USERNAME")
    status, body = client.get("/register/available")
    assert (status, body["errcode"]) == (400, "M_MISSING_PARAM")


def test_login_flows(client: Client) -> None:
    status, body = client.get("/login")
    assert status == 200 and {"type": "m.login.password"} in body["flows"]


def test_login_variants(client: Client, homeserver: Homeserver) -> None:
    name = unique("login")
    user_id = client.register(name, "pw-login")["user_id"]
    base = homeserver.base_url
    # full user id, localpart, upper-case localpart, legacy "user" field
    for identifier in (user_id, name, name.upper()):
        assert Client(base).login(identifier, "pw-login")["user_id"] == user_id
    status, body = Client(base).post("/login", {"type": "m.login.password", "user": name, "password": "pw-login"})
    assert status == 200 and body["user_id"] == user_id and body["home_server"] == homeserver.server_name
    # the r0 and legacy api/v1 prefixes still answer
    status, _ = Client(base).post(
        "/_matrix/client/r0/login", {"type": "m.login.password", "user": name, "password": "pw-login"}
    )
    assert status == 200


def test_login_device_reuse(client: Client) -> None:
    name = unique("reuse")
    client.register(name)
    first = Client(client.base_url)
    first.login(name, device_id="KEEPME", initial_device_display_name="Laptop")
    second = Client(client.base_url)
    second.login(name, device_id="KEEPME")
    assert first.device_id == second.device_id == "KEEPME"
    assert first.token != second.token
    status, devices = client.get("/devices")
    assert [d["display_name"] for d in devices["devices"] if d["device_id"] == "KEEPME"] == ["Laptop"]
    # both tokens work until that device is logged out
    assert first.get("/account/whoami")[0] == 200
    assert second.post("/logout")[0] == 200
    assert first.get("/account/whoami")[1]["errcode"] == "M_UNKNOWN_TOKEN"


def test_login_errors(client: Client, ours: bool) -> None:
    name = unique("lerr")
    client.register(name, "right")
    anon = Client(client.base_url)
    status, body = anon.post("/login", {"type": "m.login.password", "user": name, "password": "wrong"})
    assert (status, body["errcode"]) == (403, "M_FORBIDDEN")
    status, body = anon.post("/login", {"type": "m.login.password", "user": unique("ghost"), "password": "x"})
    assert (status, body["errcode"]) == (403, "M_FORBIDDEN")
    status, body = anon.post("/login", {"type": "m.login.password", "user": "@x:elsewhere.example", "password": "x"})
    assert (status, body["errcode"]) == (403, "M_FORBIDDEN")
    missing_type = anon.post("/login", {"password": "x"})
    missing_user = anon.post("/login", {"type": "m.login.password", "password": "x"})
    unknown_type = anon.post("/login", {"type": "m.login.bogus"})
    assert (missing_type[0], missing_user[0], unknown_type[0]) == (400, 400, 400)
    if ours:  # Synapse's validation says M_UNKNOWN / M_INVALID_PARAM here
        assert missing_type[1]["errcode"] == missing_user[1]["errcode"] == "M_MISSING_PARAM"
        assert unknown_type[1]["errcode"] == "M_UNKNOWN"
    status, body = anon.post(
        "/login", {"type": "m.login.password", "identifier": {"type": "m.id.weird"}, "password": "x"}
    )
    assert status == 400
    assert anon.post("/login", b"nope")[1]["errcode"] == "M_NOT_JSON"
    assert anon.post("/login", b'"string"')[1]["errcode"] == "M_BAD_JSON"


def test_tokens(client: Client) -> None:
    status, body = client.get("/account/whoami")
    assert (status, body["errcode"]) == (401, "M_MISSING_TOKEN")
    status, body = client.get("/account/whoami", token="syt_bogus")
    assert (status, body["errcode"]) == (401, "M_UNKNOWN_TOKEN")
    assert body["soft_logout"] is False
    status, body = client.get("/account/whoami", headers={"Authorization": "Basic abc"})
    assert (status, body["errcode"]) == (401, "M_MISSING_TOKEN")
    client.register(unique("tok"))
    token = client.token
    assert token.startswith("syt_")
    # the deprecated query parameter works too, but not mixed with the header
    anon = Client(client.base_url)
    assert anon.get(f"/account/whoami?access_token={token}")[0] == 200
    status, body = client.get(f"/account/whoami?access_token={token}")
    assert (status, body["errcode"]) == (401, "M_MISSING_TOKEN")


def test_logout_deletes_token_and_device(client: Client) -> None:
    name = unique("out")
    client.register(name)
    other = Client(client.base_url)
    other.login(name)
    assert other.post("/logout") == (200, {})
    assert other.get("/account/whoami")[1]["errcode"] == "M_UNKNOWN_TOKEN"
    ids = [d["device_id"] for d in client.get("/devices")[1]["devices"]]
    assert other.device_id not in ids and client.device_id in ids


def test_logout_all(client: Client) -> None:
    name = unique("outall")
    client.register(name)
    other = Client(client.base_url)
    other.login(name)
    assert client.post("/logout/all") == (200, {})
    for c in (client, other):
        assert c.get("/account/whoami")[1]["errcode"] == "M_UNKNOWN_TOKEN"
    fresh = Client(client.base_url)
    fresh.login(name)
    assert [d["device_id"] for d in fresh.get("/devices")[1]["devices"]] == [fresh.device_id]
