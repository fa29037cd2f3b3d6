"""The harness's config knobs reach the server: overrides and rate limiting.

Other system tests rely on ``config_overrides`` and ``ratelimited`` doing what
they say; these check it through observable behaviour, not the YAML.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

from tests.e2e import rawhttp
from tests.support.homeserver import Homeserver

PASSWORD = "a sufficiently long password"


def test_config_overrides_reach_the_server(
    homeserver_factory: Callable[..., Homeserver],
) -> None:
    hs = homeserver_factory("sqlite", config_overrides={"enable_registration": False})
    status, body = rawhttp.request(
        "POST",
        f"{hs.base_url}/_matrix/client/v3/register",
        body={"username": f"nobody-{secrets.token_hex(4)}", "password": PASSWORD},
    )
    assert (status, body.get("errcode")) == (403, "M_FORBIDDEN"), body


def test_ratelimited_server_throttles_repeated_logins(
    homeserver_factory: Callable[..., Homeserver],
) -> None:
    hs = homeserver_factory("sqlite", ratelimited=True)
    localpart = f"busy-{secrets.token_hex(4)}"
    rawhttp.register(hs.base_url, localpart, PASSWORD)
    login = {
        "type": "m.login.password",
        "identifier": {"type": "m.id.user", "user": localpart},
        "password": PASSWORD,
    }
    results = [
        rawhttp.request("POST", f"{hs.base_url}/_matrix/client/v3/login", body=login)
        for _ in range(10)
    ]
    throttled = [body for status, body in results if status == 429]
    assert throttled, [status for status, _ in results]
    assert all(body["errcode"] == "M_LIMIT_EXCEEDED" for body in throttled)
    assert all(status in (200, 429) for status, _ in results)
