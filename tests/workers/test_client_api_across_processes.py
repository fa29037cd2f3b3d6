"""The client API served by several processes of one server: a room created
and a message sent on a generic worker (persisted by the event persister)
wake a /sync long-poll on the main process; a logout on main ends the token
on the worker."""

import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from tests.support.twisted import run
from tests.workers.cluster import Cluster, register

TOKEN = "syt_alice_http"


def _call(base: str, method: str, path: str, body: Any = None) -> tuple[int, dict]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        base + path,
        data=data,
        method=method,
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_message_sent_on_a_worker_wakes_sync_on_main(tmp_path: Path) -> None:
    cluster = Cluster(tmp_path, instances=["main", "worker1", "persister1"], events_writers=["persister1"])
    try:
        main, _, _ = cluster.start()
        alice = run(register(main, "alice"))
        run(main.stores.registration.add_access_token(alice, TOKEN, "DEV"))
        worker, on_main = cluster.base_url("worker1"), cluster.base_url("main")

        code, body = _call(worker, "POST", "/_matrix/client/v3/createRoom", {"name": "across"})
        assert code == 200, body
        room_id = body["room_id"]
        code, body = _call(on_main, "GET", "/_matrix/client/v3/sync")
        assert code == 200 and room_id in body["rooms"]["join"]
        since = body["next_batch"]

        answer: dict[str, Any] = {}

        def long_poll() -> None:
            query = urllib.parse.urlencode({"since": since, "timeout": "15000"})
            answer["started"] = time.monotonic()
            answer["result"] = _call(on_main, "GET", f"/_matrix/client/v3/sync?{query}")
            answer["finished"] = time.monotonic()

        poller = threading.Thread(target=long_poll)
        poller.start()
        time.sleep(0.5)  # let the long-poll start waiting
        path = f"/_matrix/client/v3/rooms/{urllib.parse.quote(room_id)}/send/m.room.message/txn1"
        code, sent = _call(worker, "PUT", path, {"msgtype": "m.text", "body": "hello across"})
        assert code == 200, sent
        poller.join(timeout=20)

        code, body = answer["result"]
        assert code == 200
        timeline = body["rooms"]["join"][room_id]["timeline"]["events"]
        assert [e["event_id"] for e in timeline] == [sent["event_id"]]
        assert answer["finished"] - answer["started"] < 10
        # the same txn id again, on another process: the same event
        code, again = _call(on_main, "PUT", path, {"msgtype": "m.text", "body": "hello across"})
        assert (code, again) == (200, sent)

        # the worker has the token cached; a logout on main ends it there too
        assert _call(worker, "GET", "/_matrix/client/v3/account/whoami")[0] == 200
        assert _call(on_main, "POST", "/_matrix/client/v3/logout", {})[0] == 200
        deadline = time.monotonic() + 5
        while (result := _call(worker, "GET", "/_matrix/client/v3/account/whoami"))[0] == 200:
            assert time.monotonic() < deadline, "the worker still accepts the logged out token"
            time.sleep(0.05)
        assert result == (401, {**result[1], "errcode": "M_UNKNOWN_TOKEN"})
    finally:
        cluster.stop()
