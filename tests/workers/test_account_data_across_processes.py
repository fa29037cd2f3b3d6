"""A per-user stream across processes: account data written on a process
that is not the stream's writer is forwarded to the writer, readable on
the process that took the request as soon as it answers, and wakes a
/sync long-poll on a third process."""

import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from synapse.streams.account_data import AccountDataStream
from synapse.streams.writer import RemoteStreamWriter
from tests.support.twisted import run
from tests.workers.cluster import Cluster, register

TOKEN = "syt_carol_http"


def _call(base: str, method: str, path: str, body: Any = None) -> tuple[int, dict]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        base + "/_matrix/client/v3" + path,
        data=data,
        method=method,
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_account_data_written_on_a_non_writer(tmp_path: Path) -> None:
    cluster = Cluster(
        tmp_path,
        instances=["main", "worker1", "writer1"],
        events_writers=["main"],
        stream_writers={"account_data": ["writer1"]},
    )
    try:
        main, worker, writer = cluster.start()
        assert isinstance(worker.stream_writer("account_data"), RemoteStreamWriter)
        assert isinstance(writer.stream_writer("account_data"), AccountDataStream)
        carol = run(register(main, "carol"))
        run(main.stores.registration.add_access_token(carol, TOKEN, "DEV"))
        on_worker, on_main = cluster.base_url("worker1"), cluster.base_url("main")
        path = f"/user/{urllib.parse.quote(carol)}/account_data/org.example.x"

        code, body = _call(on_main, "GET", "/sync")
        assert code == 200
        since = body["next_batch"]
        answer: dict[str, Any] = {}

        def long_poll() -> None:
            started = time.monotonic()
            answer["result"] = _call(on_main, "GET", f"/sync?since={urllib.parse.quote(since)}&timeout=15000")
            answer["took"] = time.monotonic() - started

        poller = threading.Thread(target=long_poll)
        poller.start()
        time.sleep(0.5)
        assert _call(on_worker, "PUT", path, {"v": 1}) == (200, {})
        # read-your-writes on the process that took the request
        assert _call(on_worker, "GET", path) == (200, {"v": 1})
        poller.join(timeout=20)
        code, woken = answer["result"]
        assert code == 200 and answer["took"] < 10
        assert woken["account_data"]["events"] == [{"type": "org.example.x", "content": {"v": 1}}]
        # the writer persisted it: its position moved, main's token includes it
        assert writer.id_generators["account_data"].get_current_token() >= 1
    finally:
        cluster.stop()
