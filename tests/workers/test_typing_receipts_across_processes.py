"""Typing and receipts across processes: with both streams written by a
worker, requests taken by another process are forwarded to it, the answer
comes once the taking process can read the write, and /sync long-polls on a
third process wake on typing, on typing expiry (scheduled on the writer)
and on receipts."""

import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, Callable

from synapse.streams.receipts import ReceiptsStream
from synapse.streams.typing import TypingStream
from synapse.streams.writer import RemoteStreamWriter
from tests.support.twisted import run
from tests.workers.cluster import Cluster, register


def q(value: str) -> str:
    return urllib.parse.quote(value, safe="")


def _call(base: str, token: str, method: str, path: str, body: Any = None) -> tuple[int, dict]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        base + "/_matrix/client/v3" + path,
        data=data,
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def _ephemeral(sync: dict[str, Any], room: str) -> dict[str, Any]:
    events = sync["rooms"]["join"].get(room, {}).get("ephemeral", {}).get("events", [])
    return {e["type"]: e["content"] for e in events}


def _long_poll(base: str, token: str, since: str, action: Callable[[], Any]) -> tuple[dict[str, Any], float]:
    answer: dict[str, Any] = {}

    def poll() -> None:
        started = time.monotonic()
        answer["result"] = _call(base, token, "GET", f"/sync?since={q(since)}&timeout=15000")
        answer["took"] = time.monotonic() - started

    poller = threading.Thread(target=poll)
    poller.start()
    time.sleep(0.5)
    action()
    poller.join(timeout=20)
    code, body = answer["result"]
    assert code == 200, body
    return body, answer["took"]


def test_typing_and_receipts_written_on_a_non_writer(tmp_path: Path) -> None:
    cluster = Cluster(
        tmp_path,
        instances=["main", "worker1", "writer1"],
        events_writers=["main"],
        stream_writers={"typing": ["writer1"], "receipts": ["writer1"]},
    )
    try:
        main, worker, writer = cluster.start()
        assert isinstance(worker.stream_writer("typing"), RemoteStreamWriter)
        assert isinstance(writer.stream_writer("typing"), TypingStream)
        assert isinstance(main.stream_writer("receipts"), RemoteStreamWriter)
        assert isinstance(writer.stream_writer("receipts"), ReceiptsStream)
        carol, dave = run(register(main, "carol")), run(register(main, "dave"))
        run(main.stores.registration.add_access_token(carol, "syt_carol", "DEV"))
        run(main.stores.registration.add_access_token(dave, "syt_dave", "DEV"))
        on_worker, on_main = cluster.base_url("worker1"), cluster.base_url("main")

        code, body = _call(on_main, "syt_carol", "POST", "/createRoom", {"preset": "public_chat"})
        assert code == 200, body
        room = body["room_id"]
        assert _call(on_main, "syt_dave", "POST", f"/rooms/{q(room)}/join", {})[0] == 200
        code, body = _call(on_main, "syt_carol", "PUT", f"/rooms/{q(room)}/send/m.room.message/t1", {"body": "hi"})
        assert code == 200, body
        event_id = body["event_id"]
        code, body = _call(on_main, "syt_dave", "GET", "/sync")
        assert code == 200
        since = body["next_batch"]

        # typing taken by worker1, written on writer1, wakes dave's long-poll on main
        typing_path = f"/rooms/{q(room)}/typing/{q(carol)}"
        woken, took = _long_poll(
            on_main,
            "syt_dave",
            since,
            lambda: _call(on_worker, "syt_carol", "PUT", typing_path, {"typing": True, "timeout": 1000}),
        )
        assert took < 10 and _ephemeral(woken, room)["m.typing"] == {"user_ids": [carol]}
        # the expiry scheduled on writer1 wakes the next long-poll on main
        started = time.monotonic()
        code, expired = _call(on_main, "syt_dave", "GET", f"/sync?since={q(woken['next_batch'])}&timeout=15000")
        assert code == 200 and time.monotonic() - started < 8
        assert _ephemeral(expired, room)["m.typing"] == {"user_ids": []}

        # a receipt taken by worker1 is readable there when it answers, and wakes main
        receipt_path = f"/rooms/{q(room)}/receipt/m.read/{q(event_id)}"
        before = expired["next_batch"]
        woken, took = _long_poll(
            on_main, "syt_dave", before, lambda: _call(on_worker, "syt_carol", "POST", receipt_path, {})
        )
        assert took < 10 and list(_ephemeral(woken, room)["m.receipt"][event_id]["m.read"]) == [carol]
        code, on_worker_sync = _call(on_worker, "syt_carol", "GET", f"/sync?since={q(before)}&timeout=0")
        assert code == 200 and event_id in _ephemeral(on_worker_sync, room)["m.receipt"]

        # read markers on worker1: the fully-read marker lands in account data (written by main)
        body = {"m.fully_read": event_id, "m.read.private": event_id}
        assert _call(on_worker, "syt_dave", "POST", f"/rooms/{q(room)}/read_markers", body) == (200, {})
        fully_read = f"/user/{q(dave)}/rooms/{q(room)}/account_data/m.fully_read"
        assert _call(on_worker, "syt_dave", "GET", fully_read) == (200, {"event_id": event_id})
        assert writer.id_generators["receipts"].get_current_token() >= 2
    finally:
        cluster.stop()
