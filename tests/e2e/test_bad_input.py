"""End-to-end: malformed or unauthorised requests get the spec's errors.

Raw HTTP on purpose: a client library would refuse to send most of these.
Each case checks both the status code and the ``errcode``, since clients
branch on the errcode.
"""

from __future__ import annotations

import secrets
import urllib.parse
from typing import Any

import pytest

from tests.e2e import rawhttp
from tests.support.homeserver import Homeserver

CLIENT_V3 = "/_matrix/client/v3"
PASSWORD = "a sufficiently long password"


def _new_user(hs: Homeserver, prefix: str) -> dict[str, Any]:
    return rawhttp.register(hs.base_url, f"{prefix}-{secrets.token_hex(4)}", PASSWORD)


def _assert_error(
    result: tuple[int, dict[str, Any]], status: int, errcode: str
) -> None:
    got_status, body = result
    assert (got_status, body.get("errcode")) == (status, errcode), body
    assert isinstance(body.get("error", ""), str), body


def test_non_json_body_is_rejected(homeserver: Homeserver) -> None:
    user = _new_user(homeserver, "json")
    _assert_error(
        rawhttp.request(
            "POST",
            f"{homeserver.base_url}{CLIENT_V3}/createRoom",
            body=b"{this is not json",
            token=user["access_token"],
        ),
        400,
        "M_NOT_JSON",
    )
    _assert_error(
        rawhttp.request("POST", f"{homeserver.base_url}{CLIENT_V3}/login", body=b"\xff"),
        400,
        "M_NOT_JSON",
    )


def test_unknown_endpoint_is_unrecognized(homeserver: Homeserver) -> None:
    _assert_error(
        rawhttp.request("GET", f"{homeserver.base_url}{CLIENT_V3}/no_such_endpoint"),
        404,
        "M_UNRECOGNIZED",
    )


@pytest.mark.parametrize(
    "method, path", [("PUT", "/login"), ("DELETE", "/createRoom")]
)
def test_wrong_method_is_unrecognized(
    homeserver: Homeserver, method: str, path: str
) -> None:
    _assert_error(
        rawhttp.request(method, f"{homeserver.base_url}{CLIENT_V3}{path}", body={}),
        405,
        "M_UNRECOGNIZED",
    )


def test_missing_token(homeserver: Homeserver) -> None:
    _assert_error(
        rawhttp.request("GET", f"{homeserver.base_url}{CLIENT_V3}/account/whoami"),
        401,
        "M_MISSING_TOKEN",
    )


def test_unknown_token(homeserver: Homeserver) -> None:
    _assert_error(
        rawhttp.request(
            "GET",
            f"{homeserver.base_url}{CLIENT_V3}/account/whoami",
            token="syt_not_a_real_token",
        ),
        401,
        "M_UNKNOWN_TOKEN",
    )


def test_register_taken_username(homeserver: Homeserver) -> None:
    taken = _new_user(homeserver, "taken")["user_id"].split(":")[0].lstrip("@")
    _assert_error(
        rawhttp.request(
            "POST",
            f"{homeserver.base_url}{CLIENT_V3}/register",
            body={"username": taken, "password": PASSWORD},
        ),
        400,
        "M_USER_IN_USE",
    )
    _assert_error(
        rawhttp.request(
            "GET",
            f"{homeserver.base_url}{CLIENT_V3}/register/available?username={taken}",
        ),
        400,
        "M_USER_IN_USE",
    )


@pytest.mark.parametrize("username", ["Has Spaces", "bang!", "ünïcode"])
def test_register_invalid_username(homeserver: Homeserver, username: str) -> None:
    _assert_error(
        rawhttp.request(
            "POST",
            f"{homeserver.base_url}{CLIENT_V3}/register",
            body={"username": username, "password": PASSWORD},
        ),
        400,
        "M_INVALID_USERNAME",
    )


# ASCII only: for a non-ASCII query Synapse answers M_UNKNOWN ("must be
# ascii") where the spec lists M_INVALID_USERNAME; we don't assert either.
@pytest.mark.parametrize("username", ["Has Spaces", "bang!"])
def test_register_available_invalid_username(
    homeserver: Homeserver, username: str
) -> None:
    query = urllib.parse.urlencode({"username": username})
    _assert_error(
        rawhttp.request(
            "GET", f"{homeserver.base_url}{CLIENT_V3}/register/available?{query}"
        ),
        400,
        "M_INVALID_USERNAME",
    )


def test_send_into_room_not_joined_is_forbidden(homeserver: Homeserver) -> None:
    owner = _new_user(homeserver, "owner")
    outsider = _new_user(homeserver, "outsider")
    status, created = rawhttp.request(
        "POST",
        f"{homeserver.base_url}{CLIENT_V3}/createRoom",
        body={"preset": "private_chat"},
        token=owner["access_token"],
    )
    assert status == 200, created
    room = urllib.parse.quote(created["room_id"])
    _assert_error(
        rawhttp.request(
            "PUT",
            f"{homeserver.base_url}{CLIENT_V3}/rooms/{room}/send/m.room.message/txn1",
            body={"msgtype": "m.text", "body": "let me in"},
            token=outsider["access_token"],
        ),
        403,
        "M_FORBIDDEN",
    )


def test_oversized_event_is_too_large(homeserver: Homeserver) -> None:
    owner = _new_user(homeserver, "big")
    status, created = rawhttp.request(
        "POST", f"{homeserver.base_url}{CLIENT_V3}/createRoom", body={}, token=owner["access_token"]
    )
    assert status == 200, created
    room = urllib.parse.quote(created["room_id"])
    # an event's canonical JSON may not exceed 65536 bytes (the request body limit is larger)
    _assert_error(
        rawhttp.request(
            "PUT",
            f"{homeserver.base_url}{CLIENT_V3}/rooms/{room}/send/m.room.message/big1",
            body={"msgtype": "m.text", "body": "x" * 70_000},
            token=owner["access_token"],
        ),
        413,
        "M_TOO_LARGE",
    )
