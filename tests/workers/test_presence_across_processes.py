"""Presence across processes with short timeouts: a user long-polling /sync
on a worker that is not the presence writer stays online while syncing
(the worker reports transitions, not every long-poll), goes idle without
activity, and goes offline once they stop; a long-poll on a third process
wakes on each change."""

import threading
import time
from pathlib import Path
from typing import Any, Callable

from synapse.streams.presence import PresenceStream
from synapse.streams.writer import RemoteStreamWriter
from tests.support.twisted import run
from tests.workers.cluster import Cluster, register
from tests.workers.test_typing_receipts_across_processes import _call, q

TIMEOUTS_MS = {
    "sync_stop_grace_ms": 300,
    "sync_online_ms": 1000,
    "refresh_ms": 500,
    "check_ms": 100,
    "idle_ms": 4000,
    "active_ms": 1000,
    "activity_report_ms": 100,
}


def _presence(base: str, token: str, user_id: str) -> str:
    code, body = _call(base, token, "GET", f"/presence/{q(user_id)}/status")
    assert code == 200, body
    return body["presence"]


def _wait_for(check: Callable[[], bool], timeout: float) -> float:
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < timeout, "condition not met in time"
        time.sleep(0.05)
    return time.monotonic() - started


class SyncLoop:
    """A client long-polling /sync one request after another until stopped."""

    def __init__(self, base: str, token: str) -> None:
        self._base, self._token = base, token
        self._stop = threading.Event()
        self.syncs = 0
        self._thread = threading.Thread(target=self._run)

    def _run(self) -> None:
        code, body = _call(self._base, self._token, "GET", "/sync")
        assert code == 200, body
        since = body["next_batch"]
        while not self._stop.is_set():
            code, body = _call(self._base, self._token, "GET", f"/sync?since={q(since)}&timeout=200")
            assert code == 200, body
            since = body["next_batch"]
            self.syncs += 1

    def __enter__(self) -> "SyncLoop":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


def test_syncing_on_a_worker_keeps_a_user_online_until_they_stop(tmp_path: Path) -> None:
    cluster = Cluster(
        tmp_path,
        instances=["main", "worker1", "writer1"],
        events_writers=["main"],
        stream_writers={"presence": ["writer1"]},
    )
    cluster.shared["presence"] = {"_timeouts": TIMEOUTS_MS}
    try:
        main, worker, writer = cluster.start()
        assert isinstance(worker.stream_writer("presence"), RemoteStreamWriter)
        assert isinstance(writer.stream_writer("presence"), PresenceStream)
        carol, dave = run(register(main, "carol")), run(register(main, "dave"))
        run(main.stores.registration.add_access_token(carol, "syt_carol", "DEV"))
        run(main.stores.registration.add_access_token(dave, "syt_dave", "DEV"))
        on_worker, on_main = cluster.base_url("worker1"), cluster.base_url("main")
        # count the sync reports reaching the writer (the endpoint looks methods up by name)
        stream = writer.stream_writer("presence")
        reports: list[dict[str, Any]] = []
        report_start = stream.user_syncing

        async def counted_user_syncing(**kwargs: Any) -> int:
            reports.append(kwargs)
            return await report_start(**kwargs)

        stream.user_syncing = counted_user_syncing
        code, body = _call(on_main, "syt_carol", "POST", "/createRoom", {"preset": "public_chat"})
        assert code == 200, body
        assert _call(on_main, "syt_dave", "POST", f"/rooms/{q(body['room_id'])}/join", {})[0] == 200
        code, body = _call(on_main, "syt_dave", "GET", "/sync?set_presence=offline")
        assert code == 200
        since = body["next_batch"]

        with SyncLoop(on_worker, "syt_carol") as loop:
            _wait_for(lambda: _presence(on_main, "syt_dave", carol) == "online", timeout=5)
            # well past sync_online_ms: still online while the long-polls go on
            for _ in range(10):
                time.sleep(0.2)
                assert _presence(on_main, "syt_dave", carol) == "online"
            # the change reached dave's long-poll on main
            code, body = _call(on_main, "syt_dave", "GET", f"/sync?since={q(since)}&timeout=5000&set_presence=offline")
            assert code == 200
            events = {e["sender"]: e["content"] for e in body.get("presence", {}).get("events", [])}
            assert events[carol]["presence"] == "online"
            since = body["next_batch"]
            # no activity for idle_ms: unavailable, not offline, while syncing
            _wait_for(lambda: _presence(on_main, "syt_dave", carol) == "unavailable", timeout=8)
            assert loop.syncs > 10
            # one report for all those long-polls
            assert reports == [{"instance": "worker1", "user_id": carol, "set_presence": "online"}]
        # offline once the grace (0.3 s) and sync_online_ms (1 s) have passed, not before
        took = _wait_for(lambda: _presence(on_main, "syt_dave", carol) == "offline", timeout=8)
        assert took >= 1.0
        code, body = _call(on_main, "syt_dave", "GET", f"/sync?since={q(since)}&timeout=5000&set_presence=offline")
        events = {e["sender"]: e["content"] for e in body.get("presence", {}).get("events", [])}
        assert events[carol]["presence"] == "offline"
    finally:
        cluster.stop()
