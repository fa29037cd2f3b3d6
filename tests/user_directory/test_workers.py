"""The directory updater runs in exactly the process that
`update_user_directory_from_worker` names; searches on any process read
what it wrote (main, a generic worker and an events persister on one
PostgreSQL database and Redis)."""

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from synapse.server import HomeServer
from tests.support.twisted import run
from tests.workers.cluster import Cluster, register, requester


def _runs_updater(hs: HomeServer) -> bool:
    updater = hs.user_directory_handler.run_updater
    return any(call.f == updater for call in hs._background)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    cluster = Cluster(tmp_path, instances=["main", "worker1", "persister1"], events_writers=["main", "persister1"])
    cluster.shared["update_user_directory_from_worker"] = "worker1"
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


def test_only_the_named_worker_updates_and_every_process_searches(cluster: Cluster) -> None:
    main, worker, persister = (cluster.servers[n] for n in ("main", "worker1", "persister1"))
    assert [_runs_updater(hs) for hs in (main, worker, persister)] == [False, True, False]

    run(register(main, "alice"))
    bob = run(register(main, "bob"))
    room_id, _ = run(main.room_creation_handler.create_room(requester(main, "alice"), {"preset": "public_chat"}))
    run(main.room_member_handler.update_membership(requester(main, "bob"), bob, room_id, "join"))

    def found(hs: HomeServer) -> list[str]:
        response = run(hs.user_directory_handler.search("@carol:" + hs.hostname, "bob", 10))
        return [r["user_id"] for r in response["results"]]

    deadline = time.monotonic() + 20
    while found(main) != [bob]:
        assert time.monotonic() < deadline, "the worker's updater did not index bob"
        time.sleep(0.2)
    assert found(persister) == [bob] and found(worker) == [bob]
