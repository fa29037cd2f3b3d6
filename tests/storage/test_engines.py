"""Engine behaviour: selection, error classification, scripts, sequences, setup checks."""

import sqlite3

import psycopg2.errors
import pytest
from twisted.internet import reactor

from synapse.storage.database import DatabasePool, LoggingTransaction, make_database_pool
from synapse.storage.engines import (
    IncorrectDatabaseSetup,
    PostgresEngine,
    Sqlite3Engine,
    create_engine,
)
from tests.support.postgres import create_database, drop_database, ensure_postgres
from tests.support.twisted import run


def test_create_engine_by_config_name():
    assert isinstance(create_engine("sqlite3", {"database": ":memory:"}), Sqlite3Engine)
    postgres = create_engine("psycopg2", {"database": "synapse", "cp_min": 1, "cp_max": 3})
    assert isinstance(postgres, PostgresEngine) and postgres.is_postgres
    assert postgres.pool_size() == (1, 3)
    assert postgres.connection_kwargs() == {"database": "synapse"}
    with pytest.raises(ValueError, match="mysql"):
        create_engine("mysql", {})


def test_param_style_conversion():
    assert Sqlite3Engine({}).convert_param_style("SELECT ? WHERE x LIKE 'a%'") == "SELECT ? WHERE x LIKE 'a%'"
    assert PostgresEngine({}).convert_param_style("SELECT ? WHERE x LIKE 'a%'") == "SELECT %s WHERE x LIKE 'a%%'"


def test_retryable_errors_are_recognised():
    sqlite_engine, postgres_engine = Sqlite3Engine({}), PostgresEngine({})
    assert sqlite_engine.is_retryable(sqlite3.OperationalError("database is locked"))
    assert not sqlite_engine.is_retryable(sqlite3.OperationalError("no such table: x"))
    assert not sqlite_engine.is_retryable(sqlite3.IntegrityError("UNIQUE constraint failed"))
    assert postgres_engine.is_retryable(psycopg2.errors.SerializationFailure("x"))
    assert postgres_engine.is_retryable(psycopg2.errors.DeadlockDetected("x"))
    assert not postgres_engine.is_retryable(psycopg2.errors.UniqueViolation("x"))
    assert not postgres_engine.is_retryable(ValueError("x"))


def test_sqlite_script_runs_inside_the_callers_transaction():
    conn = sqlite3.connect(":memory:", isolation_level=None)
    script = """
        -- comments; even with semicolons
        CREATE TABLE a (x INTEGER);
        CREATE TABLE log (msg TEXT);
        CREATE TRIGGER a_insert AFTER INSERT ON a BEGIN
            INSERT INTO log (msg) VALUES ('inserted; really');
        END;
        INSERT INTO a (x) VALUES (1);
        -- trailing comment
    """
    conn.execute("BEGIN")
    Sqlite3Engine({}).execute_script(conn.cursor(), script)
    assert conn.execute("SELECT msg FROM log").fetchall() == [("inserted; really",)]
    conn.execute("ROLLBACK")
    assert conn.execute("SELECT name FROM sqlite_master").fetchall() == []

    with pytest.raises(ValueError, match="Incomplete"):
        Sqlite3Engine({}).execute_script(conn.cursor(), "CREATE TABLE b (x INTEGER)")


def test_sqlite_connection_settings(tmp_path):
    pool = run(lambda: make_database_pool(reactor, "sqlite3", {"database": str(tmp_path / "x.db")}))
    try:
        assert run(pool.execute("pragma", "PRAGMA journal_mode")) == [("wal",)]
        assert run(pool.execute("pragma", "PRAGMA foreign_keys")) == [(1,)]
        assert run(pool.execute("pragma", "PRAGMA synchronous")) == [(1,)]  # NORMAL
    finally:
        run(pool.close())


def test_in_list_clause_handles_empty_and_many_values(db_pool):
    run(db_pool.execute("create", "CREATE TABLE t (k TEXT)"))
    run(db_pool.simple_insert_many("t", ("k",), [("a",), ("b",), ("c",)]))

    def count(txn: LoggingTransaction, values: list[str]) -> int:
        clause, args = txn.database_engine.in_list_clause("k", values)
        txn.execute(f"SELECT COUNT(*) FROM t WHERE {clause}", args)
        return txn.fetchone()[0]

    assert run(db_pool.runInteraction("count", count, [])) == 0
    assert run(db_pool.runInteraction("count", count, ["a", "c", "zz"])) == 2


def test_sequences_never_go_back(db_pool: DatabasePool):
    engine = db_pool.engine

    def exercise(txn: LoggingTransaction) -> tuple:
        engine.ensure_sequence_txn(txn, "test_things_seq", 5)
        first = engine.allocate_from_sequence_txn(txn, "test_things_seq", 3)
        engine.ensure_sequence_txn(txn, "test_things_seq", 2)  # lower: ignored
        after_lower = engine.get_sequence_value_txn(txn, "test_things_seq")
        engine.ensure_sequence_txn(txn, "test_things_seq", 100)
        return first, after_lower, engine.allocate_from_sequence_txn(txn, "test_things_seq", 1)

    assert run(db_pool.runInteraction("seq", exercise)) == ([6, 7, 8], 8, [101])


def test_fresh_sequence_starts_at_one(db_pool: DatabasePool):
    engine = db_pool.engine

    def exercise(txn: LoggingTransaction) -> tuple:
        engine.ensure_sequence_txn(txn, "fresh_seq", 0)
        return engine.get_sequence_value_txn(txn, "fresh_seq"), engine.allocate_from_sequence_txn(txn, "fresh_seq", 2)

    assert run(db_pool.runInteraction("seq", exercise)) == (0, [1, 2])


def test_sequence_names_must_be_identifiers():
    with pytest.raises(ValueError, match="identifier"):
        PostgresEngine({}).get_sequence_value_txn(None, "x; DROP TABLE users")  # type: ignore[arg-type]


def test_postgres_refuses_wrong_locale_with_instructions():
    info = ensure_postgres()
    conn = info.connect()
    name = "synapse_test_wrong_locale"
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {name}")
        cur.execute(f"CREATE DATABASE {name} ENCODING 'UTF8' LC_COLLATE='C.UTF-8' LC_CTYPE='C.UTF-8' TEMPLATE template0")
    conn.close()
    try:
        pool = run(lambda: make_database_pool(reactor, "psycopg2", info.database_args(name, cp_min=1, cp_max=1)))
        with pytest.raises(IncorrectDatabaseSetup) as excinfo:
            run(pool.execute("one", "SELECT 1"))
        message = str(excinfo.value)
        assert "LC_COLLATE is 'C.UTF-8'" in message and "LC_CTYPE='C'" in message and "TEMPLATE template0" in message
        run(pool.close())

        lenient = run(
            lambda: make_database_pool(
                reactor, "psycopg2", info.database_args(name, cp_min=1, cp_max=1, allow_unsafe_locale=True)
            )
        )
        assert run(lenient.execute("one", "SELECT 1")) == [(1,)]
        run(lenient.close())
    finally:
        drop_database(info, name)


def test_postgres_accepts_c_locale_database():
    info = ensure_postgres()
    name = create_database(info)
    try:
        pool = run(lambda: make_database_pool(reactor, "psycopg2", info.database_args(name, cp_min=1, cp_max=1)))
        assert run(pool.execute("encoding", "SHOW server_encoding")) == [("UTF8",)]
        run(pool.close())
    finally:
        drop_database(info, name)
