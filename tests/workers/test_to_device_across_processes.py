"""The to_device stream across processes: a message sent on a process that
is not the stream's writer is forwarded to the writer, wakes the
recipient's /sync long-poll on a third process, and that process's next
sync acknowledges it through the writer (the rows are gone)."""

import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from synapse.streams.to_device import ToDeviceStream
from synapse.streams.writer import RemoteStreamWriter
from tests.support.twisted import run
from tests.workers.cluster import Cluster, register

SENDER_TOKEN, RECIPIENT_TOKEN = "syt_dan_http", "syt_erin_http"


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


def test_to_device_sent_on_a_non_writer_reaches_a_sync_on_a_third_process(tmp_path: Path) -> None:
    cluster = Cluster(
        tmp_path,
        instances=["main", "worker1", "writer1"],
        events_writers=["main"],
        stream_writers={"to_device": ["writer1"]},
    )
    try:
        main, worker, writer = cluster.start()
        assert isinstance(main.stream_writer("to_device"), RemoteStreamWriter)
        assert isinstance(writer.stream_writer("to_device"), ToDeviceStream)
        dan, erin = run(register(main, "dan")), run(register(main, "erin"))
        run(main.stores.registration.add_access_token(dan, SENDER_TOKEN, "DANDEV"))
        run(main.stores.registration.add_access_token(erin, RECIPIENT_TOKEN, "ERINDEV"))
        run(main.stores.devices.store_device(erin, "ERINDEV", None))
        on_main, on_worker = cluster.base_url("main"), cluster.base_url("worker1")

        code, body = _call(on_worker, RECIPIENT_TOKEN, "GET", "/sync")
        assert code == 200
        since = body["next_batch"]
        answer: dict[str, Any] = {}

        def long_poll() -> None:
            started = time.monotonic()
            answer["result"] = _call(
                on_worker, RECIPIENT_TOKEN, "GET", f"/sync?since={urllib.parse.quote(since)}&timeout=15000"
            )
            answer["took"] = time.monotonic() - started

        poller = threading.Thread(target=long_poll)
        poller.start()
        time.sleep(0.5)
        body = {"messages": {erin: {"*": {"secret": 1}}}}
        assert _call(on_main, SENDER_TOKEN, "PUT", "/sendToDevice/m.x/txn1", body) == (200, {})
        # a retry of the same request, taken by the writer itself, delivers nothing more
        assert _call(cluster.base_url("writer1"), SENDER_TOKEN, "PUT", "/sendToDevice/m.x/txn1", body) == (200, {})
        poller.join(timeout=20)
        code, woken = answer["result"]
        assert code == 200 and answer["took"] < 10
        assert woken["to_device"]["events"] == [{"sender": dan, "type": "m.x", "content": {"secret": 1}}]
        assert writer.id_generators["to_device"].get_current_token() >= 1

        # the next sync on the worker acknowledges: the writer deletes the row
        code, after = _call(on_worker, RECIPIENT_TOKEN, "GET", f"/sync?since={urllib.parse.quote(woken['next_batch'])}")
        assert code == 200 and after["to_device"]["events"] == []
        assert not run(main.stores.to_device.has_messages_up_to(erin, "ERINDEV", 1 << 40))
    finally:
        cluster.stop()
