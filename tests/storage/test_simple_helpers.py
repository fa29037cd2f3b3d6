"""The simple_* helpers, on both engines."""

import pytest

from synapse.api.errors import Codes
from synapse.storage.database import SELECT_MANY_BATCH_SIZE, DatabasePool, LoggingTransaction, StoreError
from tests.support.twisted import run


@pytest.fixture
def pool(db_pool: DatabasePool) -> DatabasePool:
    run(
        db_pool.execute(
            "create",
            "CREATE TABLE things (k TEXT NOT NULL PRIMARY KEY, n INTEGER NOT NULL, note TEXT, created INTEGER)",
        )
    )
    run(db_pool.simple_insert_many("things", ("k", "n", "note"), [("a", 1, "x"), ("b", 2, None), ("c", 2, "z")]))
    return db_pool


def _all(pool: DatabasePool) -> list[dict]:
    rows = run(pool.simple_select_list("things", None, ("k", "n", "note", "created")))
    return sorted(rows, key=lambda r: r["k"])


def test_insert_and_select_one(pool):
    run(pool.simple_insert("things", {"k": "d", "n": 4, "note": "new"}))
    assert run(pool.simple_select_one("things", {"k": "d"}, ("n", "note"))) == {"n": 4, "note": "new"}
    assert run(pool.simple_select_one_onecol("things", {"k": "d"}, "n")) == 4


def test_select_one_missing_row(pool):
    with pytest.raises(StoreError) as excinfo:
        run(pool.simple_select_one("things", {"k": "nope"}, ("n",)))
    assert excinfo.value.code == 404
    assert excinfo.value.errcode == Codes.NOT_FOUND
    assert run(pool.simple_select_one("things", {"k": "nope"}, ("n",), allow_none=True)) is None
    assert run(pool.simple_select_one_onecol("things", {"k": "nope"}, "n", allow_none=True)) is None
    with pytest.raises(StoreError):
        run(pool.simple_select_one_onecol("things", {"k": "nope"}, "n"))


def test_select_one_refuses_several_rows(pool):
    with pytest.raises(StoreError) as excinfo:
        run(pool.simple_select_one("things", {"n": 2}, ("k",)))
    assert excinfo.value.code == 500


def test_insert_duplicate_key_raises_integrity_error(pool):
    with pytest.raises(pool.engine.module.IntegrityError):
        run(pool.simple_insert("things", {"k": "a", "n": 9}))


def test_select_list_and_onecol(pool):
    assert sorted(r["k"] for r in run(pool.simple_select_list("things", {"n": 2}, ("k",)))) == ["b", "c"]
    assert sorted(run(pool.simple_select_onecol("things", {"n": 2}, "k"))) == ["b", "c"]
    assert run(pool.simple_select_list("things", {"n": 99}, ("k",))) == []
    assert len(_all(pool)) == 3


def test_none_in_keyvalues_matches_null(pool):
    assert run(pool.simple_select_onecol("things", {"note": None}, "k")) == ["b"]
    assert run(pool.simple_update("things", {"note": None}, {"note": "filled"})) == 1
    assert run(pool.simple_select_one_onecol("things", {"k": "b"}, "note")) == "filled"


def test_select_many_batches_and_filters(pool):
    keys = [f"key{i:05d}" for i in range(SELECT_MANY_BATCH_SIZE * 2 + 7)]
    run(pool.simple_insert_many("things", ("k", "n"), [(k, i % 3) for i, k in enumerate(keys)]))
    rows = run(pool.simple_select_many("things", "k", keys, ("k", "n")))
    assert sorted(r["k"] for r in rows) == keys
    rows = run(pool.simple_select_many("things", "k", keys, ("k",), keyvalues={"n": 1}))
    assert sorted(r["k"] for r in rows) == [k for i, k in enumerate(keys) if i % 3 == 1]
    assert run(pool.simple_select_many("things", "k", [], ("k",))) == []
    assert run(pool.simple_select_many("things", "k", ["a", "missing"], ("k", "note"))) == [{"k": "a", "note": "x"}]


def test_upsert_inserts_then_updates(pool):
    run(pool.simple_upsert("things", {"k": "u"}, {"n": 1}, insertion_values={"created": 100}))
    assert run(pool.simple_select_one("things", {"k": "u"}, ("n", "created"))) == {"n": 1, "created": 100}
    # On conflict only `values` change: insertion_values are for new rows.
    run(pool.simple_upsert("things", {"k": "u"}, {"n": 2}, insertion_values={"created": 200}))
    assert run(pool.simple_select_one("things", {"k": "u"}, ("n", "created"))) == {"n": 2, "created": 100}


def test_upsert_without_values_only_inserts(pool):
    run(pool.simple_upsert("things", {"k": "a"}, {}, insertion_values={"n": 50}))
    assert run(pool.simple_select_one_onecol("things", {"k": "a"}, "n")) == 1
    run(pool.simple_upsert("things", {"k": "v"}, {}, insertion_values={"n": 50}))
    assert run(pool.simple_select_one_onecol("things", {"k": "v"}, "n")) == 50


def test_update_counts_rows(pool):
    assert run(pool.simple_update("things", {"n": 2}, {"note": "two"})) == 2
    assert run(pool.simple_update("things", {"k": "missing"}, {"note": "x"})) == 0
    assert [r["note"] for r in _all(pool)] == ["x", "two", "two"]


def test_update_one(pool):
    run(pool.simple_update_one("things", {"k": "a"}, {"n": 10}))
    assert run(pool.simple_select_one_onecol("things", {"k": "a"}, "n")) == 10
    with pytest.raises(StoreError) as excinfo:
        run(pool.simple_update_one("things", {"k": "missing"}, {"n": 1}))
    assert excinfo.value.code == 404
    # Matching several rows fails and rolls the update back.
    with pytest.raises(StoreError) as excinfo:
        run(pool.simple_update_one("things", {"n": 2}, {"note": "changed"}))
    assert excinfo.value.code == 500
    assert [r["note"] for r in _all(pool)] == ["x", None, "z"]


def test_delete(pool):
    assert run(pool.simple_delete("things", {"n": 2})) == 2
    assert run(pool.simple_delete("things", {"n": 2})) == 0
    assert [r["k"] for r in _all(pool)] == ["a"]
    with pytest.raises(ValueError):
        run(pool.simple_delete("things", {}))


def test_txn_variants_compose_in_one_transaction(pool):
    def move(txn: LoggingTransaction) -> dict:
        row = DatabasePool.simple_select_one_txn(txn, "things", {"k": "a"}, ("n", "note"))
        assert row is not None
        DatabasePool.simple_delete_txn(txn, "things", {"k": "a"})
        DatabasePool.simple_insert_txn(txn, "things", {"k": "a2", **row})
        DatabasePool.simple_insert_many_txn(txn, "things", ("k", "n"), [("m1", 7), ("m2", 7)])
        DatabasePool.simple_upsert_txn(txn, "things", {"k": "m1"}, {"n": 8})
        assert DatabasePool.simple_update_txn(txn, "things", {"n": 7}, {"note": "seven"}) == 1
        DatabasePool.simple_update_one_txn(txn, "things", {"k": "a2"}, {"created": 1})
        assert DatabasePool.simple_select_one_onecol_txn(txn, "things", {"k": "m1"}, "n") == 8
        assert DatabasePool.simple_select_onecol_txn(txn, "things", {"n": 7}, "k") == ["m2"]
        many = DatabasePool.simple_select_many_txn(txn, "things", "k", ["m1", "m2"], ("k",), keyvalues={"n": 8})
        assert many == [{"k": "m1"}]
        return DatabasePool.simple_select_list_txn(txn, "things", {"k": "a2"}, ("k", "n", "note", "created"))[0]

    assert run(pool.runInteraction("move", move)) == {"k": "a2", "n": 1, "note": "x", "created": 1}
    assert [r["k"] for r in _all(pool)] == ["a2", "b", "c", "m1", "m2"]
