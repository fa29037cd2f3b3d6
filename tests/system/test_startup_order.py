"""A worker started before main, on an empty database.

Workers never create or upgrade the schema (only main does), so the worker
waits, leaving the database untouched and logging that it waits for the main
process; once main has prepared the schema it comes up by itself, catches
up from the stored positions and serves like any other worker.
docs/workers.md tells operators exactly this.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.support.topology import DEFAULT_WORKERS, Topology, start_topology
from tests.system.client import User

# how long the early worker is left waiting before main starts
_WAIT_S = 3.0


@pytest.fixture(scope="module")
def unstarted() -> Iterator[Topology]:
    deployment = start_topology(launch=False)
    yield deployment
    deployment.stop()


def test_worker_started_before_main(unstarted: Topology) -> None:
    topology = unstarted
    early = topology.start("generic1", wait=False)
    assert early.process is not None
    time.sleep(_WAIT_S)
    assert early.process.poll() is None, f"the early worker must wait for main:\n{early.log_tail()}"
    assert "waiting for the main process to prepare the database" in early.log_tail(200)
    tables = topology.query("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")
    assert tables == [], f"the early worker changed the database: {tables}"

    topology.start("main")
    topology.wait_healthy("generic1")  # the waiting worker comes up by itself
    others = [worker.name for worker in DEFAULT_WORKERS if worker.name != "generic1"]
    for name in others:
        topology.start(name, wait=False)
    for name in others:
        topology.wait_healthy(name)
    topology.start_nginx()

    # the early worker really serves: a user registered and a message sent
    # through it directly are visible through nginx
    user = User.register(topology.url("generic1"), "early")
    room_id = user.create_room()
    status, sent = user.send_text(room_id, "hello from the early worker")
    assert status == 200, sent
    user.base_url = topology.base_url
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        bodies = [e["content"].get("body") for e in user.messages(room_id) if e["type"] == "m.room.message"]
        if bodies == ["hello from the early worker"]:
            break
        time.sleep(0.2)
    assert bodies == ["hello from the early worker"]
