"""What HomeServer wires per role: mounted routes, replication calls and
health, the writer facade, and refusing an empty database on workers."""

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from synapse.routes import Route
from synapse.server import HomeServer
from synapse.storage.database import DatabasePool
from synapse.storage.persist_events import EventPersister
from synapse.streams.events import ShardedEventPersister
from tests.rooms.server import make_homeserver
from tests.rooms.server import requester as local_requester
from tests.support.twisted import run
from tests.workers.cluster import Cluster


def _request(url: str, method: str = "GET", body: Any = None) -> tuple[int, dict]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    cluster = Cluster(tmp_path, instances=["main", "worker1", "persister1"], events_writers=["main", "persister1"])
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


def test_workers_mount_generic_routes_only(cluster: Cluster) -> None:
    logout = "/_matrix/client/v3/logout"
    code, body = _request(cluster.base_url("worker1") + logout, "POST", {})
    assert (code, body["errcode"]) == (404, "M_UNRECOGNIZED")
    code, body = _request(cluster.base_url("main") + logout, "POST", {})
    assert (code, body["errcode"]) == (401, "M_MISSING_TOKEN")
    code, body = _request(cluster.base_url("worker1") + "/_matrix/client/versions")
    assert code == 200 and body["versions"]


def test_stream_routes_mount_like_others_and_nowhere_before_the_stream_exists(cluster: Cluster) -> None:
    from synapse.rest.client.versions import VersionsRestServlet

    main, worker, persister = (cluster.servers[n] for n in ("main", "worker1", "persister1"))
    unknown_route = Route(VersionsRestServlet, stream="no_such_stream")  # a stream not declared
    events_route = Route(VersionsRestServlet, stream="events")
    assert not any(hs._serves(unknown_route) for hs in (main, worker, persister))
    # non-writers serve stream routes too: they forward writes to the writer
    assert [hs._serves(events_route) for hs in (main, worker, persister)] == [True, True, True]


def test_replication_calls_are_served_by_stream_writers(cluster: Cluster) -> None:
    names = {n: [type(e).__name__ for e in cluster.servers[n].replication_endpoints()] for n in cluster.instances}
    assert names == {
        "main": ["ReplicationPersistEventEndpoint", "ReplicationStreamWriteEndpoint"],
        "worker1": [],
        "persister1": ["ReplicationPersistEventEndpoint"],
    }
    url = cluster.base_url("worker1") + "/_synapse/replication/persist_event/%24e/txn"
    code, body = _request(url, "POST", {})
    assert (code, body["errcode"]) == (404, "M_UNRECOGNIZED")


def test_event_persister_is_local_only_where_this_process_writes_every_room(cluster: Cluster) -> None:
    assert isinstance(cluster.servers["worker1"].event_persister, ShardedEventPersister)
    assert isinstance(cluster.servers["main"].event_persister, ShardedEventPersister)
    assert cluster.servers["main"].event_persister._local is cluster.servers["main"].local_event_persister


def test_monolith_persists_locally(db_pool: DatabasePool) -> None:
    hs = run(make_homeserver(db_pool))
    assert isinstance(hs.event_persister, EventPersister)


def test_replication_health_reports_bus_and_stream_positions(cluster: Cluster) -> None:
    code, body = _request(cluster.base_url("worker1") + "/_synapse/replication/health")
    assert code == 200
    assert body["instance"] == "worker1"
    assert body["bus"]["state"] == "connected" and body["bus"]["connected"] is True
    events = body["streams"]["events"]
    assert set(events["positions"]) == {"main", "persister1"}
    assert events["lag"] >= 0 and events["token"] == min(events["positions"].values())
    assert "worker1" in body["streams"]["caches"]["positions"]
    # the plain health check stays a plain 200
    with urllib.request.urlopen(cluster.base_url("worker1") + "/health", timeout=10) as response:
        assert response.status == 200 and response.read() == b"OK"


def test_replication_health_is_503_without_the_bus(cluster: Cluster) -> None:
    run(cluster.servers["worker1"].replication_bus.stop())
    code, body = _request(cluster.base_url("worker1") + "/_synapse/replication/health")
    assert code == 503
    assert body["bus"] == {**body["bus"], "state": "stopped", "connected": False}
    with urllib.request.urlopen(cluster.base_url("worker1") + "/health", timeout=10) as response:
        assert response.status == 200


def test_worker_started_before_main_waits_for_the_schema(tmp_path: Path) -> None:
    """A worker on an empty database waits (it never migrates) and comes up
    once main has prepared the schema."""
    import threading

    cluster = Cluster(tmp_path, instances=["main", "worker1"], events_writers=["main"])
    try:
        worker = HomeServer(cluster.config_for("worker1"))
        done: dict[str, Any] = {}
        waiting = threading.Thread(target=lambda: done.setdefault("result", run(worker.setup(), timeout=60)))
        waiting.start()
        waiting.join(timeout=2.5)
        assert waiting.is_alive(), "the worker must wait for main, not fail"
        cluster.start_one("main")
        waiting.join(timeout=30)
        assert not waiting.is_alive() and "result" in done
        assert worker.id_generators["events"].get_current_token() >= 0
        run(worker.shutdown())
    finally:
        cluster.stop()


def test_persister_answers_a_repeated_transaction_id_with_the_first_event(db_pool: DatabasePool) -> None:
    """Two event creators built events for one txn id: the writer keeps the first."""
    hs = run(make_homeserver(db_pool))
    creator = hs.event_creation_handler
    alice = local_requester("alice")
    room_id, _ = run(hs.room_creation_handler.create_room(alice, {}))
    room_version = run(hs.stores.rooms.get_room_version(room_id))

    def build(body: str) -> Any:
        event_dict = {
            "type": "m.room.message", "room_id": room_id, "sender": alice.user_id,
            "content": {"msgtype": "m.text", "body": body},
        }  # fmt: skip
        return run(creator._build_and_check(alice, event_dict, room_version, "txn1"))

    first, first_context = build("one")
    second, second_context = build("two")
    persisted_first, position = run(hs.event_persister.persist_event(first, first_context))
    persisted_second, position_again = run(hs.event_persister.persist_event(second, second_context))
    assert persisted_second.event_id == first.event_id == persisted_first.event_id
    assert position_again == position
    assert run(hs.stores.events.get_event(second.event_id, allow_none=True)) is None


def test_two_writers_racing_one_transaction_id_keep_the_first_event(db_pool: DatabasePool) -> None:
    """Writers outside each other's room lock (as while event persisters are
    reconfigured): the loser's unique violation on event_txn_ids becomes the
    winner's event, not an error."""
    from twisted.internet import defer

    hs_a = run(make_homeserver(db_pool))
    hs_b = run(make_homeserver(db_pool))
    alice = local_requester("alice")
    room_id, _ = run(hs_a.room_creation_handler.create_room(alice, {}))
    room_version = run(hs_a.stores.rooms.get_room_version(room_id))

    def build(body: str) -> Any:
        event_dict = {
            "type": "m.room.message", "room_id": room_id, "sender": alice.user_id,
            "content": {"msgtype": "m.text", "body": body},
        }  # fmt: skip
        return run(hs_a.event_creation_handler._build_and_check(alice, event_dict, room_version, "txn1"))

    (first, first_context), (second, second_context) = build("one"), build("two")
    results = run(
        defer.gatherResults(
            [
                defer.ensureDeferred(hs_a.event_persister.persist_event(first, first_context)),
                defer.ensureDeferred(hs_b.event_persister.persist_event(second, second_context)),
            ]
        )
    )
    assert len({event.event_id for event, _ in results}) == 1
    assert len({position for _, position in results}) == 1
    rows = run(db_pool.execute("count", "SELECT COUNT(*) FROM event_txn_ids WHERE txn_id = 'txn1'"))
    assert rows == [(1,)]


def test_worker_process_started_before_main_logs_that_it_waits(tmp_path: Path) -> None:
    import subprocess
    import sys
    import time

    import yaml

    cluster = Cluster(tmp_path, instances=["main", "worker1"], events_writers=["main"])
    try:
        shared = tmp_path / "shared.yaml"
        shared.write_text(yaml.safe_dump(cluster.shared))
        worker = tmp_path / "worker1.yaml"
        worker.write_text(
            yaml.safe_dump(
                {
                    "worker_app": "synapse.app.generic_worker",
                    "worker_name": "worker1",
                    "worker_listeners": [cluster._replication_listener("worker1")],
                }
            )
        )
        repo = Path(__file__).resolve().parents[2]
        process = subprocess.Popen(
            [sys.executable, "-m", "synapse.app.generic_worker", "-c", str(shared), "-c", str(worker)],
            cwd=tmp_path,
            env={"PYTHONPATH": str(repo), "PATH": "/usr/bin:/bin"},
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            time.sleep(3)
            assert process.poll() is None, "a worker started before main must wait, not exit"
            process.terminate()
            _, stderr = process.communicate(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
    finally:
        cluster.stop()
    assert process.returncode == 0, stderr
    assert "waiting for the main process to prepare the database" in stderr
