"""E2eKeysStore on SQLite and PostgreSQL: device keys, one-time and fallback
keys (claims never hand a key out twice, even in parallel), cross-signing
keys and signatures. Device keys, cross-signing keys and signatures are
written by the device_lists stream's transactions (with their change row;
the stream itself is tested in tests/api/test_device_lists.py)."""

import itertools
from typing import Any

import pytest
from twisted.internet import defer, reactor

from synapse.storage.stores.devices import DeviceStore
from synapse.storage.stores.e2e_keys import E2eKeysStore
from synapse.streams.device_lists import _set_cross_signing_keys_txn, _set_device_keys_txn, _store_signatures_txn
from synapse.util.clock import Clock
from tests.support.twisted import run

ALICE = "@alice:test"
_positions = itertools.count(1)


def write(db_pool: Any, txn_fn: Any, *args: Any) -> None:
    """Runs one of the stream's write transactions at a fresh position."""
    run(db_pool.runInteraction("write", txn_fn, next(_positions), *args))


@pytest.fixture
def store(db_pool: Any) -> E2eKeysStore:
    return E2eKeysStore(db_pool, Clock(reactor))  # type: ignore[arg-type]


@pytest.fixture
def devices(db_pool: Any) -> DeviceStore:
    return DeviceStore(db_pool, Clock(reactor))  # type: ignore[arg-type]


def device_keys(device_id: str, curve: str = "c1") -> dict[str, Any]:
    return {
        "user_id": ALICE,
        "device_id": device_id,
        "algorithms": ["m.olm.v1.curve25519-aes-sha2"],
        "keys": {f"curve25519:{device_id}": curve},
        "signatures": {ALICE: {f"ed25519:{device_id}": "sig"}},
    }


def test_device_keys_round_trip(store: E2eKeysStore, devices: DeviceStore, db_pool: Any) -> None:
    run(devices.store_device(ALICE, "D1", "Phone"))
    run(devices.store_device(ALICE, "D2", None))
    write(db_pool, _set_device_keys_txn, ALICE, "D1", device_keys("D1", "old"), 1)
    write(db_pool, _set_device_keys_txn, ALICE, "D1", device_keys("D1"), 2)
    write(db_pool, _set_device_keys_txn, ALICE, "D2", device_keys("D2"), 2)
    # a device without a devices row (deleted) is not returned
    write(db_pool, _set_device_keys_txn, ALICE, "GONE", device_keys("GONE"), 2)
    result = run(store.get_device_keys([(ALICE, None)]))
    assert set(result[ALICE]) == {"D1", "D2"}
    assert result[ALICE]["D1"] == {"keys": device_keys("D1"), "display_name": "Phone"}
    assert set(run(store.get_device_keys([(ALICE, "D2"), ("@bob:test", None)]))[ALICE]) == {"D2"}


def test_one_time_key_counts_and_claims(store: E2eKeysStore) -> None:
    assert run(store.count_one_time_keys(ALICE, "D1")) == {}
    run(store.add_one_time_keys(ALICE, "D1", [("signed_curve25519", "A", {"key": "a"}), ("curve25519", "B", "b")]))
    run(store.add_one_time_keys(ALICE, "D1", [("signed_curve25519", "C", {"key": "c"})]))
    # a repeated key id is skipped, not duplicated
    run(store.add_one_time_keys(ALICE, "D1", [("signed_curve25519", "A", {"key": "a"})]))
    assert run(store.count_one_time_keys(ALICE, "D1")) == {"signed_curve25519": 2, "curve25519": 1}
    assert run(store.get_one_time_keys(ALICE, "D1", [("signed_curve25519", "A"), ("x", "y")])) == {
        ("signed_curve25519", "A"): {"key": "a"}
    }

    claimed = run(store.claim_keys([(ALICE, "D1", "signed_curve25519"), ("@bob:test", "D1", "signed_curve25519")]))
    assert list(claimed) == [(ALICE, "D1")]
    first = claimed[(ALICE, "D1")]
    assert first[0] == "signed_curve25519" and first[1] in ("A", "C")
    second = run(store.claim_keys([(ALICE, "D1", "signed_curve25519")]))[(ALICE, "D1")]
    assert {first[1], second[1]} == {"A", "C"}
    assert run(store.claim_keys([(ALICE, "D1", "signed_curve25519")])) == {}
    assert run(store.count_one_time_keys(ALICE, "D1")) == {"curve25519": 1}


def test_fallback_key_used_when_one_time_keys_run_out(store: E2eKeysStore) -> None:
    run(store.set_fallback_keys(ALICE, "D1", [("signed_curve25519", "F1", {"key": "f1", "fallback": True})]))
    assert run(store.get_sync_key_summary(ALICE, "D1"))[1] == ["signed_curve25519"]
    run(store.add_one_time_keys(ALICE, "D1", [("signed_curve25519", "O1", {"key": "o1"})]))
    assert run(store.claim_keys([(ALICE, "D1", "signed_curve25519")]))[(ALICE, "D1")][1] == "O1"
    assert run(store.get_sync_key_summary(ALICE, "D1"))[1] == ["signed_curve25519"]
    # no one-time key left: the fallback key, again and again, marked used
    for _ in range(2):
        claimed = run(store.claim_keys([(ALICE, "D1", "signed_curve25519")]))
        assert claimed[(ALICE, "D1")] == ("signed_curve25519", "F1", {"key": "f1", "fallback": True})
    assert run(store.get_sync_key_summary(ALICE, "D1"))[1] == []
    # re-uploading the same key keeps it used; a new key is unused
    run(store.set_fallback_keys(ALICE, "D1", [("signed_curve25519", "F1", {"key": "f1", "fallback": True})]))
    assert run(store.get_sync_key_summary(ALICE, "D1"))[1] == []
    run(store.set_fallback_keys(ALICE, "D1", [("signed_curve25519", "F2", {"key": "f2", "fallback": True})]))
    assert run(store.get_sync_key_summary(ALICE, "D1"))[1] == ["signed_curve25519"]
    assert run(store.claim_keys([(ALICE, "D1", "signed_curve25519")]))[(ALICE, "D1")][1] == "F2"


def test_parallel_claims_never_hand_out_a_key_twice(store: E2eKeysStore) -> None:
    keys = [("signed_curve25519", f"K{i:02d}", {"key": f"k{i}"}) for i in range(15)]
    run(store.add_one_time_keys(ALICE, "D1", keys))
    run(store.set_fallback_keys(ALICE, "D1", [("signed_curve25519", "FB", {"key": "fb"})]))

    async def claim_many() -> list[Any]:
        calls = [defer.ensureDeferred(store.claim_keys([(ALICE, "D1", "signed_curve25519")])) for _ in range(25)]
        return await defer.gatherResults(calls, consumeErrors=True)

    results = run(claim_many(), timeout=60)
    key_ids = [r[(ALICE, "D1")][1] for r in results]
    one_time = [k for k in key_ids if k != "FB"]
    assert sorted(one_time) == sorted(k[1] for k in keys)  # each exactly once
    assert key_ids.count("FB") == 10
    assert run(store.count_one_time_keys(ALICE, "D1")) == {}


def test_cross_signing_keys_and_signatures(store: E2eKeysStore, db_pool: Any) -> None:
    master = {"user_id": ALICE, "usage": ["master"], "keys": {"ed25519:M": "M"}}
    ssk = {"user_id": ALICE, "usage": ["self_signing"], "keys": {"ed25519:S": "S"}}
    write(db_pool, _set_cross_signing_keys_txn, ALICE, {"master": master, "self_signing": ssk}, 1)
    assert run(store.get_cross_signing_keys([ALICE, "@bob:test"])) == {ALICE: {"master": master, "self_signing": ssk}}
    new_master = {**master, "keys": {"ed25519:M2": "M2"}}
    write(db_pool, _set_cross_signing_keys_txn, ALICE, {"master": new_master}, 2)
    assert run(store.get_cross_signing_keys([ALICE]))[ALICE]["master"] == new_master

    signatures = [["ed25519:S", ALICE, "D1", "sig1"], ["ed25519:U", "@bob:test", "BM", "sig2"]]
    write(db_pool, _store_signatures_txn, ALICE, signatures)
    write(db_pool, _store_signatures_txn, ALICE, [["ed25519:S", ALICE, "D1", "sig3"]])
    sigs = run(store.get_signatures([ALICE]))
    assert sigs == [
        {
            "user_id": ALICE,
            "key_id": "ed25519:S",
            "target_user_id": ALICE,
            "target_device_id": "D1",
            "signature": "sig3",
        }
    ]

