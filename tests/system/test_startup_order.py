"""A worker started before main (on an empty database) must not corrupt
anything and must end up serving once main has created the schema.

Two behaviours are acceptable, as long as the operator is never left
guessing: the worker waits (retrying) and becomes healthy once main is up,
or it exits 1 at once with one line telling the operator to start main first,
and then starts fine when restarted after main.
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
# how long an early worker may take to decide between waiting and exiting
_DECIDE_S = 10.0
# how long a waiting worker may take to come up once main is healthy
_CATCH_UP_S = 60.0


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
        early.process.wait(timeout=_DECIDE_S)
    except subprocess.TimeoutExpired:
        pass
    exited = early.process.poll()

    topology.start("main")
    if exited is None:
        # it waited: it must come up on its own now that the schema exists
        topology.wait_healthy("generic1", _CATCH_UP_S)
    else:
        assert exited == 1, f"early worker exited {exited}:\n{early.log_tail()}"
        output = early.log_tail(200)
        plain = [line for line in output.splitlines() if not _LOG_RECORD.match(line) and not line[:1].isspace()]
        told = [line for line in plain if "main process" in line.lower()]
        assert told, f"no plain line telling the operator to start main first:\n{output}"
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
