"""Accounts API over real HTTP: shared-secret admin registration, server
version, rate limits, and servers configured without registration."""

from typing import Iterator

import pytest

from tests.accounts.client import Client, admin_mac, start_accounts_homeserver, unique
from tests.support.homeserver import Homeserver

ADMIN_REGISTER = "/_synapse/admin/v1/register"


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


def _admin_body(hs: Homeserver, client: Client, username: str, admin: bool = False, **extra: object) -> dict:
    status, body = client.get(ADMIN_REGISTER)
    assert status == 200 and len(body["nonce"]) >= 16
    nonce = body["nonce"]
    user_type = extra.get("user_type")
    mac = admin_mac(hs.registration_shared_secret, nonce, username, "adm-pw", admin, user_type)  # type: ignore[arg-type]
    return {"nonce": nonce, "username": username, "password": "adm-pw", "admin": admin, "mac": mac, **extra}


def test_server_version(client: Client) -> None:
    status, body = client.get("/_synapse/admin/v1/server_version")
    assert status == 200 and isinstance(body["server_version"], str) and body["server_version"]


def test_shared_secret_registration(client: Client, homeserver: Homeserver) -> None:
    name = unique("admin")
    body = _admin_body(homeserver, client, name, admin=True, displayname="The Admin")
    status, result = client.post(ADMIN_REGISTER, body)
    assert status == 200, result
    assert result["user_id"] == f"@{name}:{homeserver.server_name}"
    assert result["access_token"] and result["device_id"]
    assert Client(client.base_url, result["access_token"]).get("/account/whoami")[1]["user_id"] == result["user_id"]
    assert client.get(f"/profile/{result['user_id']}/displayname") == (200, {"displayname": "The Admin"})
    Client(client.base_url).login(name, "adm-pw")
    # the nonce was used up
    status, err = client.post(ADMIN_REGISTER, body)
    assert status == 400


def test_shared_secret_registration_with_user_type(client: Client, homeserver: Homeserver) -> None:
    body = _admin_body(homeserver, client, unique("bot"), user_type="bot")
    assert client.post(ADMIN_REGISTER, body)[0] == 200


def test_shared_secret_registration_errors(client: Client, homeserver: Homeserver, ours: bool) -> None:
    body = _admin_body(homeserver, client, unique("mac"))
    body["mac"] = "0" * 40
    status, err = client.post(ADMIN_REGISTER, body)
    assert status == 403
    if ours:
        assert err["errcode"] == "M_FORBIDDEN"
    # a wrong MAC still spends the nonce
    body["mac"] = admin_mac(homeserver.registration_shared_secret, body["nonce"], body["username"], "adm-pw", False)
    assert client.post(ADMIN_REGISTER, body)[0] == 400

    if ours:
        body = _admin_body(homeserver, client, unique("flag"))
        body["admin"] = "yes"
        assert client.post(ADMIN_REGISTER, body)[1]["errcode"] == "M_INVALID_PARAM"
    body = _admin_body(homeserver, client, unique("nomac"))
    del body["mac"]
    assert client.post(ADMIN_REGISTER, body)[0] == 400
    assert client.post(ADMIN_REGISTER, {"nonce": "made-up"})[0] == 400
    assert client.post(ADMIN_REGISTER, b"{")[1]["errcode"] == "M_NOT_JSON"

    taken = unique("taken")
    Client(client.base_url).register(taken)
    status, err = client.post(ADMIN_REGISTER, _admin_body(homeserver, client, taken))
    assert (status, err["errcode"]) == (400, "M_USER_IN_USE")
    status, err = client.post(ADMIN_REGISTER, _admin_body(homeserver, client, "bad name"))
    assert (status, err["errcode"]) == (400, "M_INVALID_USERNAME")


def test_login_rate_limits() -> None:
    hs = start_accounts_homeserver(
        "sqlite",
        ratelimited=True,
        rc_login={
            "address": {"per_second": 0.001, "burst_count": 20},
            "account": {"per_second": 0.001, "burst_count": 20},
            "failed_attempts": {"per_second": 0.001, "burst_count": 2},
        },
        rc_registration={"per_second": 0.001, "burst_count": 100},
    )
    try:
        client = Client(hs.base_url)
        name = unique("rl")
        client.register(name)
        attempt = {"type": "m.login.password", "user": name, "password": "wrong"}
        assert [client.post("/login", attempt)[0] for _ in range(2)] == [403, 403]
        status, body = client.post("/login", attempt)
        assert (status, body["errcode"]) == (429, "M_LIMIT_EXCEEDED")
        assert body["retry_after_ms"] > 0
        # the right password is refused too while the account is throttled
        status, body = client.post("/login", {**attempt, "password": "secret-pw"})
        assert status == 429
        # guessing unknown user names is throttled the same way
        ghost = {"type": "m.login.password", "user": unique("ghost"), "password": "x"}
        assert [client.post("/login", ghost)[0] for _ in range(3)] == [403, 403, 429]
        # other accounts are unaffected until the address limit is reached
        other = unique("rl")
        Client(hs.base_url).register(other)
        codes = [
            Client(hs.base_url).post("/login", {**attempt, "user": other, "password": "secret-pw"})[0]
            for _ in range(20)
        ]
        assert codes[0] == 200 and codes[-1] == 429
    finally:
        hs.stop()


def test_registration_rate_limit_and_guests() -> None:
    hs = start_accounts_homeserver(
        "sqlite", ratelimited=True, rc_registration={"per_second": 0.001, "burst_count": 2}, allow_guest_access=True
    )
    try:
        client = Client(hs.base_url)
        status, guest = client.post("/register?kind=guest", {})
        assert status == 200, guest
        whoami = Client(hs.base_url, guest["access_token"]).get("/account/whoami")[1]
        assert whoami["is_guest"] is True and whoami["user_id"] == guest["user_id"]
        # guests may not use endpoints that are not open to them
        assert Client(hs.base_url, guest["access_token"]).post("/account/password", {})[1]["errcode"] == (
            "M_GUEST_ACCESS_FORBIDDEN"
        )
        Client(hs.base_url).register(unique("rr"))
        status, body = client.post("/register", {"username": unique("rr"), "password": "pw"})
        assert (status, body["errcode"]) == (429, "M_LIMIT_EXCEEDED") and body["retry_after_ms"] > 0
    finally:
        hs.stop()


def test_registration_disabled() -> None:
    hs = start_accounts_homeserver("sqlite", enable_registration=False, registration_shared_secret=None)
    try:
        client = Client(hs.base_url)
        status, body = client.post("/register", {"username": unique("no"), "password": "pw"})
        assert (status, body["errcode"]) == (403, "M_FORBIDDEN")
        status, body = client.get("/register/available?username=someone")
        assert (status, body["errcode"]) == (403, "M_FORBIDDEN")
        if not hs.is_reference_synapse():  # Synapse falls back to a secret of its own
            status, body = client.get(ADMIN_REGISTER)
            assert status == 400
            assert "not enabled" in body["error"]
    finally:
        hs.stop()
