"""Which events writer owns a room: stable across processes and runs, and
what every process of a sharded cluster actually does."""

import subprocess
import sys
from pathlib import Path

import pytest

from synapse.streams.events import event_writer_for_room, shard_for_room
from tests.support.twisted import run
from tests.workers.cluster import Cluster, register, requester

REPO = Path(__file__).resolve().parents[2]


def test_shard_is_sha256_of_the_room_id() -> None:
    # sha256(b"!a:hs") starts d8d3a0b3cffd86e1: the shard is those 8 bytes
    # modulo the number of writers. Fixed values guard against a change of
    # hash, which would move every room to another writer.
    assert shard_for_room("!a:hs", 2**64) == 0xD8D3A0B3CFFD86E1
    assert [shard_for_room(r, 1000) for r in ("!a:hs", "!b:hs", "!OGEhHVWSdvArJzumhm:matrix.org")] == [585, 394, 810]


def test_writer_choice_does_not_depend_on_the_process_hash_seed() -> None:
    code = (
        "from synapse.streams.events import event_writer_for_room;"
        "print(','.join(event_writer_for_room(f'!room{i}:hs', ['p1', 'p2', 'p3']) for i in range(50)))"
    )
    answers = set()
    for seed in ("1", "2", "12345"):
        out = subprocess.run(
            [sys.executable, "-c", code],
            cwd=REPO,
            env={"PYTHONHASHSEED": seed, "PYTHONPATH": str(REPO)},
            capture_output=True,
            text=True,
            check=True,
        )
        answers.add(out.stdout.strip())
    assert len(answers) == 1
    here = ",".join(event_writer_for_room(f"!room{i}:hs", ["p1", "p2", "p3"]) for i in range(50))
    assert answers == {here}


def test_rooms_spread_over_writers() -> None:
    writers = ["p1", "p2"]
    counts = {w: 0 for w in writers}
    for i in range(2000):
        counts[event_writer_for_room(f"!room{i}:example.org", writers)] += 1
    assert 800 < counts["p1"] < 1200


def test_one_writer_takes_every_room() -> None:
    assert {event_writer_for_room(f"!r{i}:hs", ["only"]) for i in range(20)} == {"only"}
    with pytest.raises(ValueError):
        shard_for_room("!r:hs", 0)


def test_each_room_is_persisted_by_its_writer(tmp_path: Path) -> None:
    cluster = Cluster(tmp_path, instances=["main", "p1", "p2"], events_writers=["p1", "p2"])
    try:
        main, p1, p2 = cluster.start()
        run(register(main, "alice"))
        rooms = [run(main.room_creation_handler.create_room(requester(main, "alice"), {}))[0] for _ in range(6)]
        # and a room created by a writer, whose rooms may live on the other one
        rooms.append(run(p1.room_creation_handler.create_room(requester(p1, "alice"), {}))[0])
        owners = {}
        for room_id in rooms:
            rows = run(main.db.execute("w", "SELECT DISTINCT instance_name FROM events WHERE room_id = ?", room_id))
            assert rows == [(event_writer_for_room(room_id, ["p1", "p2"]),)]
            owners[room_id] = rows[0][0]
        assert set(owners.values()) <= {"p1", "p2"}
    finally:
        cluster.stop()
