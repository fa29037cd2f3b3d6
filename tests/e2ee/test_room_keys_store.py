"""RoomKeysStore on SQLite and PostgreSQL: versions, keys, etags, counts."""

from typing import Any

import pytest

from synapse.handlers.room_keys import should_replace_room_key
from synapse.storage.stores.room_keys import RoomKeysStore
from tests.support.twisted import run

ALICE = "@alice:test"
ALG = "m.megolm_backup.v1.curve25519-aes-sha2"


@pytest.fixture
def store(db_pool: Any) -> RoomKeysStore:
    return RoomKeysStore(db_pool)


def key(index: int = 0, forwarded: int = 0, verified: bool = False, data: str = "x") -> dict[str, Any]:
    return {
        "first_message_index": index,
        "forwarded_count": forwarded,
        "is_verified": verified,
        "session_data": {"ciphertext": data},
    }


def test_versions(store: RoomKeysStore) -> None:
    assert run(store.get_version(ALICE)) is None
    assert run(store.create_version(ALICE, ALG, {"public_key": "p1"})) == 1
    assert run(store.create_version(ALICE, ALG, {"public_key": "p2"})) == 2
    assert run(store.create_version("@bob:test", ALG, {})) == 1
    current = run(store.get_version(ALICE))
    assert current == {"version": 2, "algorithm": ALG, "auth_data": {"public_key": "p2"}, "etag": 0, "count": 0}
    assert run(store.get_version(ALICE, 1))["auth_data"] == {"public_key": "p1"}
    run(store.update_version_auth_data(ALICE, 1, {"public_key": "p1b"}))
    assert run(store.get_version(ALICE, 1))["auth_data"] == {"public_key": "p1b"}

    run(store.delete_version(ALICE, 2))
    assert run(store.version_state(ALICE, 2)) is False
    assert run(store.version_state(ALICE, 1)) is True
    assert run(store.version_state(ALICE, 7)) is None
    assert run(store.get_version(ALICE))["version"] == 1
    # a deleted version's number is not handed out again
    assert run(store.create_version(ALICE, ALG, {})) == 3


def test_keys_etag_count_and_replacement(store: RoomKeysStore) -> None:
    version = run(store.create_version(ALICE, ALG, {}))
    etag, count = run(
        store.upsert_room_keys(ALICE, version, [("!r1", "s1", key(5)), ("!r2", "s2", key())], should_replace_room_key)
    )
    assert (etag, count) == (1, 2)
    # a worse key (higher index) is not stored and the etag stays
    assert run(
        store.upsert_room_keys(ALICE, version, [("!r1", "s1", key(9, data="worse"))], should_replace_room_key)
    ) == (1, 2)
    assert run(
        store.upsert_room_keys(ALICE, version, [("!r1", "s1", key(1, data="better"))], should_replace_room_key)
    ) == (2, 2)
    rows = run(store.get_room_keys(ALICE, version))
    assert rows == [("!r1", "s1", key(1, data="better")), ("!r2", "s2", key())]
    assert run(store.get_room_keys(ALICE, version, "!r2")) == [("!r2", "s2", key())]
    assert run(store.get_room_keys(ALICE, version, "!r1", "nope")) == []

    assert run(store.delete_room_keys(ALICE, version, "!r1", "s1")) == (3, 1)
    assert run(store.delete_room_keys(ALICE, version, "!r1")) == (3, 1)  # nothing left there
    assert run(store.delete_room_keys(ALICE, version)) == (4, 0)
    run(store.upsert_room_keys(ALICE, version, [("!r1", "s1", key())], should_replace_room_key))
    run(store.delete_version(ALICE, version))
    assert run(store.get_room_keys(ALICE, version)) == []
