"""A worker started before main, on an empty database.

Workers never create or upgrade the schema (only main does), so the worker
exits 1 at once, leaving the database untouched, with one plain line (among
its log records) telling the operator to start the main process first. Started
again after main, it serves like any other worker. docs/workers.md tells
operators exactly this.
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Iterator

import pytest

from tests.support.topology import Topology, start_topology
from tests.system.client import User

# a record of the log formatter ("2026-01-01 10:00:00,000 - ..."), not a message to the operator
_LOG_RECORD = re.compile(r"^\d{4}-\d\d-\d\d |^Traceback |^--- start ")
# how long an early worker may take to give up
_EXIT_S = 20.0


@pytest.fixture(scope="module")
def unstarted() -> Iterator[Topology]:
    deployment = start_topology(launch=False)
    yield deployment
    deployment.stop()


def test_worker_started_before_main(unstarted: Topology) -> None:
    topology = unstarted
    early = topology.start("generic1", wait=False)
    assert early.process is not None
    try:
        status = early.process.wait(timeout=_EXIT_S)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"a worker on an empty database still runs after {_EXIT_S}s") from None
    assert status == 1, f"early worker exited {status}:\n{early.log_tail()}"
    output = early.log_tail(200)
    plain = [line for line in output.splitlines() if not _LOG_RECORD.match(line) and not line[:1].isspace()]
    told = [line for line in plain if "main process" in line.lower() and "database" in line.lower()]
    assert len(told) == 1, f"expected one plain line telling the operator to start main first:\n{output}"
    tables = topology.query("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")
    assert tables == [], f"the early worker changed the database: {tables}"

    topology.start("main")
    topology.start("generic1")
    for name in ("generic2", "persister1", "persister2", "stream_writer"):
        topology.start(name, wait=False)
    for name in ("generic2", "persister1", "persister2", "stream_writer"):
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
