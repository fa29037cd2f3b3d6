"""/search, /relations and /threads on a generic worker while events are
written by two other processes (sharded event persisters) over real HTTP:
the index and relation rows are written by whichever persister owns the
room, in the event's transaction, and any reader process serves them."""

import json
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from tests.support.twisted import run
from tests.workers.cluster import Cluster, register

TOKEN = "syt_searcher_http"


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


def q(value: str) -> str:
    return urllib.parse.quote(value, safe="")


def _ok(result: tuple[int, dict]) -> dict:
    code, body = result
    assert code == 200, body
    return body


def test_search_and_relations_served_by_a_worker(tmp_path: Path) -> None:
    cluster = Cluster(
        tmp_path, instances=["main", "worker1", "persister1", "persister2"], events_writers=["persister1", "persister2"]
    )
    try:
        main = cluster.start()[0]
        searcher = run(register(main, "searcher"))
        run(main.stores.registration.add_access_token(searcher, TOKEN, "DEV"))
        worker = cluster.base_url("worker1")

        # rooms until both persisters own some (rooms are sharded by id hash)
        rooms: list[str] = []
        while len(rooms) < 2 or len(run(main.db.runInteraction("writers", _writers_txn))) < 2:
            assert len(rooms) < 40, "every room landed on one persister"
            rooms.append(_ok(_call(worker, "POST", "/_matrix/client/v3/createRoom", {}))["room_id"])
        roots = {}
        for i, room in enumerate(rooms):
            path = f"/_matrix/client/v3/rooms/{q(room)}/send/m.room.message/root{i}"
            roots[room] = _ok(_call(worker, "PUT", path, {"msgtype": "m.text", "body": f"wombat {i}"}))["event_id"]
            reply = {
                "msgtype": "m.text",
                "body": "reply",
                "m.relates_to": {"rel_type": "m.thread", "event_id": roots[room]},
            }
            _ok(_call(worker, "PUT", f"/_matrix/client/v3/rooms/{q(room)}/send/m.room.message/reply{i}", reply))

        body = {"search_categories": {"room_events": {"search_term": "wombat", "filter": {"limit": 50}}}}
        result = _ok(_call(worker, "POST", "/_matrix/client/v3/search", body))["search_categories"]["room_events"]
        assert result["count"] == len(rooms)
        assert {r["result"]["room_id"] for r in result["results"]} == set(rooms)
        # thread roots found by search carry their thread summary
        assert all(r["result"]["unsigned"]["m.relations"]["m.thread"]["count"] == 1 for r in result["results"])

        for room in rooms:
            relations = _ok(_call(worker, "GET", f"/_matrix/client/v1/rooms/{q(room)}/relations/{q(roots[room])}"))
            assert [e["content"]["body"] for e in relations["chunk"]] == ["reply"]
            threads = _ok(_call(worker, "GET", f"/_matrix/client/v1/rooms/{q(room)}/threads"))
            assert [e["event_id"] for e in threads["chunk"]] == [roots[room]]
    finally:
        cluster.stop()


def _writers_txn(txn: Any) -> list[tuple]:
    txn.execute("SELECT DISTINCT instance_name FROM events WHERE type = 'm.room.create'")
    return list(txn.fetchall())
