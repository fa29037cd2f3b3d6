"""A minimal Matrix client for benchmarking, on asyncio + aiohttp.

aiohttp (already in /work/venv as a matrix-nio dependency) keeps one
keep-alive connection per client and costs far less client CPU per request
than a thread per request, which matters when client and server share two
cores. Each client owns its own connection so "C clients" means C sockets.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from typing import Any
from urllib.parse import quote

import aiohttp

JsonDict = dict[str, Any]

_txn_counter = itertools.count()


class MatrixError(Exception):
    """A non-2xx answer from the server (the benchmark aborts on these)."""

    def __init__(self, method: str, path: str, status: int, body: str):
        super().__init__(f"{method} {path} -> {status}: {body[:300]}")
        self.status = status


def new_session(connections: int = 1) -> aiohttp.ClientSession:
    """A session holding at most `connections` keep-alive sockets."""
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=connections),
        timeout=aiohttp.ClientTimeout(total=120),
    )


async def request(
    session: aiohttp.ClientSession,
    base_url: str,
    method: str,
    path: str,
    *,
    token: str | None = None,
    body: JsonDict | None = None,
    params: dict[str, str] | None = None,
) -> tuple[JsonDict, float]:
    """Send one request; return (parsed JSON body, seconds until fully read)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    start = time.perf_counter()
    async with session.request(
        method, base_url + path, json=body, params=params, headers=headers
    ) as resp:
        raw = await resp.read()
    elapsed = time.perf_counter() - start
    if resp.status >= 300:
        raise MatrixError(method, path, resp.status, raw.decode(errors="replace"))
    return (json.loads(raw) if raw else {}), elapsed


async def register_with_shared_secret(
    session: aiohttp.ClientSession,
    base_url: str,
    shared_secret: str,
    username: str,
    password: str,
) -> JsonDict:
    """Register a user through the admin shared-secret API.

    GET a nonce, then POST with mac = HMAC-SHA1(secret,
    nonce NUL username NUL password NUL "notadmin").
    """
    path = "/_synapse/admin/v1/register"
    nonce_body, _ = await request(session, base_url, "GET", path)
    nonce = nonce_body["nonce"]
    mac = hmac.new(shared_secret.encode(), digestmod=hashlib.sha1)
    for part in (nonce, username, password):
        mac.update(part.encode())
        mac.update(b"\x00")
    mac.update(b"notadmin")
    body = {
        "nonce": nonce,
        "username": username,
        "password": password,
        "admin": False,
        "mac": mac.hexdigest(),
    }
    result, _ = await request(session, base_url, "POST", path, body=body)
    return result


def _txn() -> str:
    """A transaction id unique within this process and across runs."""
    return f"b{time.time_ns()}.{next(_txn_counter)}"


class MatrixClient:
    """One logged-in device talking over its own connection."""

    def __init__(
        self,
        base_url: str,
        user_id: str,
        access_token: str,
        device_id: str | None = None,
    ):
        self.base_url = base_url
        self.user_id = user_id
        self.access_token = access_token
        self.device_id = device_id
        self.session = new_session()

    def other_connection(self) -> MatrixClient:
        """The same device on a connection of its own (closed separately)."""
        return MatrixClient(
            self.base_url, self.user_id, self.access_token, self.device_id
        )

    async def close(self) -> None:
        await self.session.close()

    async def call(
        self,
        method: str,
        path: str,
        body: JsonDict | None = None,
        params: dict[str, str] | None = None,
    ) -> tuple[JsonDict, float]:
        return await request(
            self.session,
            self.base_url,
            method,
            path,
            token=self.access_token,
            body=body,
            params=params,
        )

    async def create_room(self, name: str) -> str:
        body = {"preset": "public_chat", "name": name}
        result, _ = await self.call("POST", "/_matrix/client/v3/createRoom", body)
        return result["room_id"]

    async def join(self, room_id: str) -> None:
        await self.call("POST", f"/_matrix/client/v3/join/{quote(room_id)}", {})

    async def send_text(self, room_id: str, text: str) -> tuple[str, float]:
        """Send an m.room.message; return (event_id, seconds to 200 OK)."""
        path = f"/_matrix/client/v3/rooms/{quote(room_id)}/send/m.room.message/{_txn()}"
        result, elapsed = await self.call(
            "PUT", path, {"msgtype": "m.text", "body": text}
        )
        return result["event_id"], elapsed

    async def set_typing(self, room_id: str, typing: bool) -> None:
        path = f"/_matrix/client/v3/rooms/{quote(room_id)}/typing/{quote(self.user_id)}"
        body: JsonDict = {"typing": typing}
        if typing:
            body["timeout"] = 30000
        await self.call("PUT", path, body)

    async def send_read_receipt(self, room_id: str, event_id: str) -> None:
        path = (
            f"/_matrix/client/v3/rooms/{quote(room_id)}/receipt/m.read/{quote(event_id, safe='')}"
        )
        await self.call("POST", path, {})

    async def put_account_data(self, data_type: str, content: JsonDict) -> None:
        path = (
            f"/_matrix/client/v3/user/{quote(self.user_id)}/account_data/{quote(data_type)}"
        )
        await self.call("PUT", path, content)

    async def send_to_device(
        self, event_type: str, user_id: str, device_id: str, content: JsonDict
    ) -> None:
        path = f"/_matrix/client/v3/sendToDevice/{quote(event_type)}/{_txn()}"
        await self.call("PUT", path, {"messages": {user_id: {device_id: content}}})

    async def sync(
        self, since: str | None = None, timeout_ms: int = 0
    ) -> tuple[JsonDict, float]:
        params = {"timeout": str(timeout_ms)}
        if since is not None:
            params["since"] = since
        return await self.call("GET", "/_matrix/client/v3/sync", params=params)

    async def logout(self) -> None:
        await self.call("POST", "/_matrix/client/v3/logout", {})


async def login_fresh_device(
    base_url: str, username: str, password: str
) -> MatrixClient:
    """Password login without a device_id, so the server makes a new device."""
    session = new_session()
    try:
        body = {
            "type": "m.login.password",
            "identifier": {"type": "m.id.user", "user": username},
            "password": password,
        }
        result, _ = await request(
            session, base_url, "POST", "/_matrix/client/v3/login", body=body
        )
    finally:
        await session.close()
    return MatrixClient(
        base_url, result["user_id"], result["access_token"], result.get("device_id")
    )


def timeline_event_ids(sync_body: JsonDict, room_id: str) -> set[str]:
    """Event ids in one joined room's timeline of a /sync response."""
    room = sync_body.get("rooms", {}).get("join", {}).get(room_id, {})
    return {ev.get("event_id") for ev in room.get("timeline", {}).get("events", [])}
