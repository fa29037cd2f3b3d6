"""A minimal Matrix client over raw HTTP for the system tests.

The tests need exact control over where a request goes (nginx, or one
worker's own listener) and what a failure looks like (status, errcode, or a
timeout), which client libraries hide; `tests.e2e.rawhttp` does the I/O.
"""

from __future__ import annotations

import json
import secrets
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Any, Callable

from tests.e2e import rawhttp

PASSWORD = "system test password"
CLIENT = "/_matrix/client/v3"
# big enough that no batch in these tests is cut short ("limited")
SYNC_FILTER = json.dumps({"room": {"timeline": {"limit": 200}}})


@dataclass
class User:
    user_id: str
    access_token: str
    # the base URL requests go to unless a call names another
    base_url: str
    next_batch: str | None = field(default=None)

    @classmethod
    def register(cls, base_url: str, prefix: str) -> "User":
        body = rawhttp.register(base_url, f"{prefix}-{secrets.token_hex(4)}", PASSWORD)
        return cls(body["user_id"], body["access_token"], base_url)

    def request(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        base_url: str | None = None,
        timeout: float = 30,
    ) -> tuple[int, dict[str, Any]]:
        return rawhttp.request(
            method, f"{base_url or self.base_url}{CLIENT}{path}", body=body, token=self.access_token, timeout=timeout
        )

    def ok(self, method: str, path: str, body: dict[str, Any] | None = None, **kwargs: Any) -> dict[str, Any]:
        status, answer = self.request(method, path, body, **kwargs)
        assert status == 200, f"{method} {path} -> {status} {answer}"
        return answer

    def create_room(self, **content: Any) -> str:
        return self.ok("POST", "/createRoom", {"preset": "public_chat", **content})["room_id"]

    def join(self, room_id: str) -> None:
        self.ok("POST", f"/join/{urllib.parse.quote(room_id)}", {})

    def send_text(
        self, room_id: str, text: str, *, txn_id: str | None = None, base_url: str | None = None, timeout: float = 30
    ) -> tuple[int, dict[str, Any]]:
        """PUT one m.room.message; (status, body) whatever the outcome."""
        txn = txn_id or secrets.token_hex(8)
        path = f"/rooms/{urllib.parse.quote(room_id)}/send/m.room.message/{txn}"
        return self.request("PUT", path, {"msgtype": "m.text", "body": text}, base_url=base_url, timeout=timeout)

    def sync(self, *, timeout_ms: int = 0, base_url: str | None = None, advance: bool = True) -> dict[str, Any]:
        """One /sync from this user's last `next_batch` (an initial sync the first time)."""
        query = {"timeout": str(timeout_ms), "filter": SYNC_FILTER}
        if self.next_batch:
            query["since"] = self.next_batch
        path = "/sync?" + urllib.parse.urlencode(query)
        answer = self.ok("GET", path, base_url=base_url, timeout=timeout_ms / 1000 + 30)
        if advance:
            self.next_batch = answer["next_batch"]
        return answer

    def messages(self, room_id: str, *, base_url: str | None = None) -> list[dict[str, Any]]:
        """Every event of a room, oldest first, paginating /messages forwards."""
        events: list[dict[str, Any]] = []
        query: dict[str, str] = {"dir": "f", "limit": "100"}
        while True:
            path = f"/rooms/{urllib.parse.quote(room_id)}/messages?" + urllib.parse.urlencode(query)
            page = self.ok("GET", path, base_url=base_url)
            events += page.get("chunk", [])
            if not page.get("chunk") or "end" not in page:
                return events
            query["from"] = page["end"]


def timeline_events(sync: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(room_id, event) for every timeline event of joined rooms in a sync."""
    found = []
    for room_id, room in sync.get("rooms", {}).get("join", {}).items():
        for event in room.get("timeline", {}).get("events", []):
            found.append((room_id, event))
    return found


def limited_rooms(sync: dict[str, Any]) -> list[str]:
    return [r for r, room in sync.get("rooms", {}).get("join", {}).items() if room.get("timeline", {}).get("limited")]


def wait_until(predicate: Any, timeout: float, message: str, interval: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"not within {timeout}s: {message}")


# rooms created beyond `at_least` before giving up on reaching every persister
_MAX_EXTRA_ROOMS = 40


def rooms_on_every_persister(
    user: User, query: Callable[..., list], at_least: int, persisters: tuple[str, ...] = ("persister1", "persister2")
) -> dict[str, list[str]]:
    """Creates rooms until there are `at_least` and every event persister owns
    one (a room's persister follows from a hash of its random id, so a fixed
    number of rooms may all land on one); persister -> its rooms, in order."""
    owned: dict[str, list[str]] = {name: [] for name in persisters}
    created = 0
    while created < at_least or not all(owned.values()):
        assert created < at_least + _MAX_EXTRA_ROOMS, f"rooms never reached every persister: {owned}"
        room_id = user.create_room()
        created += 1
        ((instance,),) = query("SELECT MIN(instance_name) FROM events WHERE room_id = %s", room_id)
        owned[instance].append(room_id)
    return owned
