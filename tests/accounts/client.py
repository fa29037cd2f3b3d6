"""A tiny synchronous Matrix client over real HTTP for the accounts API tests,
and a homeserver process started for them (tests/support/homeserver.py)."""

import hashlib
import hmac
import itertools
import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Callable, Optional, Union

from tests.support.homeserver import Homeserver, start_homeserver

# cheap hashing: tests register and log in a lot
FAST_BCRYPT = {"bcrypt_rounds": 4}

_counter = itertools.count()


def unique(prefix: str) -> str:
    """A localpart no other test in this session uses (servers are shared)."""
    return f"{prefix}{os.getpid()}x{next(_counter)}"


def start_accounts_homeserver(database: str, **overrides: Any) -> Homeserver:
    ratelimited = overrides.pop("ratelimited", False)
    return start_homeserver(
        database,  # type: ignore[arg-type]
        ratelimited=ratelimited,
        config_overrides={**FAST_BCRYPT, **overrides},
    )


class Client:
    """Requests against one server; `token` is sent as a Bearer header when set."""

    def __init__(self, base_url: str, token: Optional[str] = None) -> None:
        self.base_url = base_url
        self.token = token
        self.user_id: Optional[str] = None
        self.device_id: Optional[str] = None

    def request(
        self,
        method: str,
        path: str,
        body: Union[dict[str, Any], bytes, None] = None,
        token: Optional[str] = None,
        headers: Optional[dict[str, str]] = None,
    ) -> tuple[int, Any]:
        if not path.startswith("/_"):
            path = "/_matrix/client/v3" + path
        data = json.dumps(body).encode() if isinstance(body, dict) else body
        req = urllib.request.Request(self.base_url + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        token = token if token is not None else self.token
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        for name, value in (headers or {}).items():
            req.add_header(name, value)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                status, raw = resp.status, resp.read()
        except urllib.error.HTTPError as e:
            status, raw = e.code, e.read()
        parsed = json.loads(raw)
        # every response is a JSON object except the few arrays the spec defines (GET /state)
        assert isinstance(parsed, (dict, list)), f"{method} {path} answered {raw!r}"
        return status, parsed

    def get(self, path: str, **kwargs: Any) -> tuple[int, dict[str, Any]]:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> tuple[int, dict[str, Any]]:
        return self.request("POST", path, {} if body is None else body, **kwargs)

    def put(self, path: str, body: Any = None, **kwargs: Any) -> tuple[int, dict[str, Any]]:
        return self.request("PUT", path, {} if body is None else body, **kwargs)

    def delete(self, path: str, body: Any = None, **kwargs: Any) -> tuple[int, dict[str, Any]]:
        return self.request("DELETE", path, body, **kwargs)

    # -- flows -------------------------------------------------------------
    def register(self, localpart: str, password: str = "secret-pw", **extra: Any) -> dict[str, Any]:
        """Registers through the dummy UIA flow and logs this client in."""
        status, body = self.post("/register", {"username": localpart, "password": password, **extra})
        assert status == 401, body
        status, body = self.post("/register", {"auth": {"type": "m.login.dummy", "session": body["session"]}})
        assert status == 200, body
        self._adopt(body)
        return body

    def login(self, user: str, password: str = "secret-pw", **extra: Any) -> dict[str, Any]:
        status, body = self.post(
            "/login",
            {
                "type": "m.login.password",
                "identifier": {"type": "m.id.user", "user": user},
                "password": password,
                **extra,
            },
        )
        assert status == 200, body
        self._adopt(body)
        return body

    def password_auth(self, session: str, password: str = "secret-pw") -> dict[str, Any]:
        """The `auth` dict of an m.login.password UIA stage for this client's user."""
        return {
            "type": "m.login.password",
            "identifier": {"type": "m.id.user", "user": self.user_id},
            "password": password,
            "session": session,
        }

    def _adopt(self, body: dict[str, Any]) -> None:
        self.user_id = body["user_id"]
        if "access_token" in body:
            self.token = body["access_token"]
            self.device_id = body["device_id"]


def q(value: str) -> str:
    """`value` quoted as one URL path segment."""
    return urllib.parse.quote(value, safe="")


def new_user(server: Any, prefix: str = "user") -> Client:
    """A freshly registered user of `server` (anything with a `base_url`)."""
    client = Client(server.base_url)
    client.register(unique(prefix))
    return client


def shared_room(owner: Client, *others: Client) -> str:
    """A public room `owner` creates and every one of `others` joins."""
    status, body = owner.post("/createRoom", {"preset": "public_chat"})
    assert status == 200, body
    room = body["room_id"]
    for other in others:
        assert other.post(f"/rooms/{q(room)}/join")[0] == 200
    return room


def settled_sync(
    client: Client, since: Optional[str], ready: Callable[[dict[str, Any]], bool], within_s: float = 10.0
) -> dict[str, Any]:
    """The first /sync (initial when `since` is None, else incremental with
    timeout 0) for which `ready` holds, else the last one after `within_s`:
    on a worker deployment the stream's writer answers a write and the
    worker serving /sync learns of it a moment later."""
    path = "/sync" if since is None else f"/sync?since={q(since)}&timeout=0"
    deadline = time.monotonic() + within_s
    while True:
        status, body = client.get(path)
        assert status == 200, body
        if ready(body) or time.monotonic() > deadline:
            return body
        time.sleep(0.05)


def admin_mac(
    secret: str, nonce: str, username: str, password: str, admin: bool, user_type: Optional[str] = None
) -> str:
    """The HMAC a shared-secret registration script computes (independent of the server code)."""
    parts = [nonce, username, password, "admin" if admin else "notadmin"]
    if user_type:
        parts.append(user_type)
    return hmac.new(secret.encode(), "\x00".join(parts).encode(), hashlib.sha1).hexdigest()
