"""The schema migration runner."""

import logging
from pathlib import Path

import pytest

from synapse.storage.database import DatabasePool
from synapse.storage.engines import create_engine
from synapse.storage.prepare import (
    APPLIED_TABLE,
    SCHEMA_DIR,
    PrepareDatabaseError,
    find_schema_files,
    prepare_database,
)
from tests.support.twisted import run


def _write(directory: Path, files: dict[str, str]) -> Path:
    directory.mkdir(exist_ok=True)
    for name, text in files.items():
        (directory / name).write_text(text)
    return directory


def _applied(pool: DatabasePool) -> list[str]:
    return sorted(row[0] for row in run(pool.execute("applied", f"SELECT name FROM {APPLIED_TABLE}")))


@pytest.fixture
def schema_dir(tmp_path: Path) -> Path:
    return _write(
        tmp_path / "schema",
        {
            "10_things.sql": "-- a comment; with a semicolon\nCREATE TABLE things (id INTEGER PRIMARY KEY, name TEXT);\n"
            "INSERT INTO things (id, name) VALUES (1, 'seed; with semicolon');\n",
            "2_first.sql": "CREATE TABLE first (x INTEGER);",
            "20_engine.postgres.sql": "CREATE TABLE engine_specific (which TEXT DEFAULT 'postgres');",
            "20_engine.sqlite.sql": "CREATE TABLE engine_specific (which TEXT DEFAULT 'sqlite');",
            "README.md": "not a schema file",
        },
    )


@pytest.mark.parametrize("engine_name", ["sqlite3", "psycopg2"])
def test_find_schema_files_orders_numerically_and_picks_engine_variants(tmp_path, engine_name):
    directory = _write(
        tmp_path,
        {
            "10_b.sql": "",
            "2_a.sql": "",
            "5_c.sql": "",
            "5_c.postgres.sql": "",
            "7_only_sqlite.sqlite.sql": "",
            "7_only_postgres.postgres.sql": "",
        },
    )
    files = find_schema_files(create_engine(engine_name, {}), directory)
    if engine_name == "psycopg2":
        assert [f.name for f in files] == ["2_a.sql", "5_c.sql", "7_only_postgres.sql", "10_b.sql"]
        assert [f.path.name for f in files][1] == "5_c.postgres.sql"
    else:
        assert [f.name for f in files] == ["2_a.sql", "5_c.sql", "7_only_sqlite.sql", "10_b.sql"]
        assert [f.path.name for f in files][1] == "5_c.sql"


def test_badly_named_schema_file_is_refused(tmp_path):
    directory = _write(tmp_path, {"users.sql": ""})
    with pytest.raises(PrepareDatabaseError, match="users.sql"):
        find_schema_files(create_engine("sqlite3", {}), directory)


def test_migrations_apply_once_in_order_and_are_recorded(test_database, schema_dir, caplog):
    pool = test_database.open()
    with caplog.at_level(logging.INFO, logger="synapse.storage.prepare"):
        run(prepare_database(pool, schema_dir=schema_dir))
    assert _applied(pool) == ["10_things.sql", "20_engine.sql", "2_first.sql"]
    messages = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Applying schema")]
    assert messages == [
        "Applying schema 2_first.sql (1/3)",
        "Applying schema 10_things.sql (2/3)",
        "Applying schema 20_engine.sql (3/3)",
    ]
    expected = "postgres" if pool.engine.is_postgres else "sqlite"
    run(pool.execute("insert", "INSERT INTO engine_specific DEFAULT VALUES"))
    assert run(pool.execute("read", "SELECT which FROM engine_specific")) == [(expected,)]
    assert run(pool.execute("read", "SELECT name FROM things")) == [("seed; with semicolon",)]

    # A restart (new pool, same database) applies nothing again: the seed
    # row would otherwise be inserted twice and fail on its primary key.
    restarted = test_database.open()
    run(prepare_database(restarted, schema_dir=schema_dir))
    run(prepare_database(restarted, schema_dir=schema_dir, allow_upgrade=False))
    assert run(restarted.execute("count", "SELECT COUNT(*) FROM things")) == [(1,)]


def test_new_schema_file_applies_on_next_start(test_database, schema_dir, caplog):
    pool = test_database.open()
    run(prepare_database(pool, schema_dir=schema_dir))
    # A new file numbered below already-applied ones still runs, once.
    _write(schema_dir, {"15_later.sql": "CREATE TABLE later (y INTEGER);"})
    with pytest.raises(PrepareDatabaseError, match="out of date.*15_later.sql"):
        run(prepare_database(pool, schema_dir=schema_dir, allow_upgrade=False))
    with caplog.at_level(logging.INFO, logger="synapse.storage.prepare"):
        run(prepare_database(pool, schema_dir=schema_dir))
    assert "Applying schema 15_later.sql (1/1)" in caplog.text
    assert "15_later.sql" in _applied(pool)
    run(pool.execute("use", "INSERT INTO later (y) VALUES (1)"))


def test_failing_schema_file_is_rolled_back_and_not_recorded(test_database, schema_dir):
    _write(
        schema_dir,
        {"30_broken.sql": "CREATE TABLE half_done (z INTEGER);\nCREATE TABLE broken (oops NOT A TYPE !!);\n"},
    )
    pool = test_database.open()
    with pytest.raises(PrepareDatabaseError, match="30_broken.sql"):
        run(prepare_database(pool, schema_dir=schema_dir))
    # Files before it stay applied; nothing of the broken file remains.
    assert _applied(pool) == ["10_things.sql", "20_engine.sql", "2_first.sql"]

    def table_exists(txn, name):
        return txn.database_engine.table_exists_txn(txn, name)

    assert run(pool.runInteraction("check", table_exists, "things")) is True
    assert run(pool.runInteraction("check", table_exists, "half_done")) is False


def test_worker_refuses_empty_database(test_database, schema_dir):
    pool = test_database.open()
    with pytest.raises(PrepareDatabaseError, match="empty"):
        run(prepare_database(pool, schema_dir=schema_dir, allow_upgrade=False))
    # ... and did not create anything.
    assert run(pool.runInteraction("check", lambda txn: txn.database_engine.table_exists_txn(txn, APPLIED_TABLE))) is False


def test_unknown_applied_files_are_tolerated_with_a_warning(test_database, schema_dir, caplog):
    pool = test_database.open()
    run(prepare_database(pool, schema_dir=schema_dir))
    (schema_dir / "2_first.sql").unlink()
    with caplog.at_level(logging.WARNING, logger="synapse.storage.prepare"):
        run(prepare_database(pool, schema_dir=schema_dir, allow_upgrade=False))
    assert "2_first.sql" in caplog.text


def test_real_schema_is_applied_by_the_db_pool_fixture(db_pool):
    names = {f.name for f in find_schema_files(db_pool.engine, SCHEMA_DIR)}
    assert "00_stream_positions.sql" in names
    assert set(_applied(db_pool)) == names

    def exists(txn, name):
        return txn.database_engine.table_exists_txn(txn, name)

    assert run(db_pool.runInteraction("check", exists, "stream_positions")) is True
    # The sequences stand-in only exists where there are no real sequences.
    assert run(db_pool.runInteraction("check", exists, "stream_sequences")) is (not db_pool.engine.is_postgres)
