"""Plain HTTP requests for end-to-end tests that need exact control.

Client libraries hide or "fix" malformed requests, so tests of bad input and
of the wire format (status codes, errcodes, raw bodies) go through urllib.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any


def request(
    method: str,
    url: str,
    *,
    body: dict[str, Any] | bytes | None = None,
    token: str | None = None,
    timeout: float = 30,
) -> tuple[int, dict[str, Any]]:
    """Send a request; return (status, JSON body), whatever the status.

    The spec requires every client-server response, errors included, to be a
    JSON object, so a body that is not one fails the calling test here.
    """
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if token is not None:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read()
    try:
        parsed = json.loads(raw)
    except ValueError:
        raise AssertionError(
            f"{method} {url} -> {status} with a non-JSON body: {raw[:300]!r}"
        ) from None
    assert isinstance(parsed, dict), f"{method} {url} -> {status}: {parsed!r}"
    return status, parsed


def register(base_url: str, localpart: str, password: str) -> dict[str, Any]:
    """Register through user-interactive auth: discover a session, then dummy.

    Returns the successful response (user_id, access_token, device_id).
    """
    url = f"{base_url}/_matrix/client/v3/register"
    status, body = request("POST", url, body={"username": localpart, "password": password})
    assert status == 401, (status, body)
    status, body = request(
        "POST",
        url,
        body={
            "username": localpart,
            "password": password,
            "auth": {"type": "m.login.dummy", "session": body["session"]},
        },
    )
    assert status == 200, (status, body)
    return body
