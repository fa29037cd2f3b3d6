"""DatabasePool.runInteraction: commit, rollback, callbacks, retries, isolation."""

import sqlite3
import threading

import psycopg2.errors
import pytest
from twisted.internet import defer

from synapse.metrics.database import transaction_failures, transaction_retries
from synapse.storage.database import MAX_TRANSACTION_ATTEMPTS, DatabasePool, LoggingTransaction, retry_delay
from synapse.storage.engines import IsolationLevel
from tests.support.twisted import run


def _retryable_error(pool: DatabasePool) -> Exception:
    """What the engine reports for a transient conflict."""
    if pool.engine.is_postgres:
        return psycopg2.errors.SerializationFailure("could not serialize access due to concurrent update")
    return sqlite3.OperationalError("database is locked")


def _make_table(pool: DatabasePool) -> None:
    run(pool.execute("create_t", "CREATE TABLE t (v INTEGER NOT NULL)"))


def _values(pool: DatabasePool) -> list[int]:
    return sorted(row[0] for row in run(pool.execute("read_t", "SELECT v FROM t")))


def _counter(metric, desc: str) -> float:
    return metric.labels(desc)._value.get()


def test_interaction_commits_and_returns_result(db_pool):
    _make_table(db_pool)

    def insert(txn: LoggingTransaction, a: int, *, b: int) -> str:
        txn.execute("INSERT INTO t (v) VALUES (?)", (a,))
        txn.executemany("INSERT INTO t (v) VALUES (?)", [(b,), (b + 1,)])
        return "inserted"

    assert run(db_pool.runInteraction("insert", insert, 1, b=10)) == "inserted"
    assert _values(db_pool) == [1, 10, 11]


def test_exception_rolls_back_everything_and_runs_exception_callbacks(db_pool):
    _make_table(db_pool)
    after, failed = [], []

    def insert_then_fail(txn: LoggingTransaction) -> None:
        txn.execute("INSERT INTO t (v) VALUES (1)")
        txn.call_after(after.append, "after")
        txn.call_on_exception(failed.append, "failed")
        raise ValueError("boom")

    failures_before = _counter(transaction_failures, "insert_then_fail")
    with pytest.raises(ValueError, match="boom"):
        run(db_pool.runInteraction("insert_then_fail", insert_then_fail))
    assert _values(db_pool) == []
    assert after == [] and failed == ["failed"]
    assert _counter(transaction_failures, "insert_then_fail") == failures_before + 1


def test_after_callbacks_run_on_reactor_thread_after_commit(db_pool):
    _make_table(db_pool)
    seen = []

    def insert(txn: LoggingTransaction) -> None:
        txn.execute("INSERT INTO t (v) VALUES (5)")
        txn.call_after(lambda value: seen.append((threading.current_thread().name, value)), 5)
        assert seen == []  # not yet: the transaction has not committed

    run(db_pool.runInteraction("insert", insert))
    assert seen == [("test-reactor", 5)]


def test_retryable_error_reruns_from_scratch(db_pool):
    _make_table(db_pool)
    attempts, after = [], []
    error = _retryable_error(db_pool)

    def flaky(txn: LoggingTransaction) -> int:
        attempts.append(1)
        txn.execute("INSERT INTO t (v) VALUES (?)", (len(attempts),))
        txn.call_after(after.append, len(attempts))
        if len(attempts) == 1:
            raise error
        return len(attempts)

    retries_before = _counter(transaction_retries, "flaky")
    assert run(db_pool.runInteraction("flaky", flaky)) == 2
    # The first attempt's insert and callback are gone with its rollback.
    assert _values(db_pool) == [2]
    assert after == [2]
    assert _counter(transaction_retries, "flaky") == retries_before + 1


def test_retry_delay_grows_and_is_capped():
    for attempt in range(1, 20):
        delay = retry_delay(attempt)
        nominal = min(0.01 * 2 ** (attempt - 1), 1.0)
        assert 0.5 * nominal <= delay <= 1.5 * nominal


def test_retries_are_bounded(db_pool, monkeypatch):
    monkeypatch.setattr("synapse.storage.database.retry_delay", lambda attempt: 0.0)
    attempts, failed = [], []
    error = _retryable_error(db_pool)

    def always_conflicts(txn: LoggingTransaction) -> None:
        attempts.append(1)
        txn.call_on_exception(failed.append, len(attempts))
        raise error

    with pytest.raises(type(error)):
        run(db_pool.runInteraction("always_conflicts", always_conflicts))
    assert len(attempts) == MAX_TRANSACTION_ATTEMPTS
    # Only the final attempt's exception callbacks run.
    assert failed == [MAX_TRANSACTION_ATTEMPTS]


def test_other_errors_are_not_retried(db_pool):
    attempts = []

    def bad_sql(txn: LoggingTransaction) -> None:
        attempts.append(1)
        txn.execute("SELECT * FROM no_such_table")

    with pytest.raises(Exception, match="no_such_table"):
        run(db_pool.runInteraction("bad_sql", bad_sql))
    assert attempts == [1]
    # The connection is usable afterwards.
    assert run(db_pool.execute("one", "SELECT 1")) == [(1,)]


def test_db_autocommit_commits_each_statement(db_pool):
    _make_table(db_pool)

    def insert_then_fail(txn: LoggingTransaction) -> None:
        txn.execute("INSERT INTO t (v) VALUES (1)")
        raise ValueError("after the insert")

    with pytest.raises(ValueError):
        run(db_pool.runInteraction("autocommit", insert_then_fail, db_autocommit=True))
    assert _values(db_pool) == [1]
    # The connection is transactional again for the next interaction.
    with pytest.raises(ValueError):
        run(db_pool.runInteraction("transactional", insert_then_fail))
    assert _values(db_pool) == [1]


def test_placeholders_and_literal_percent_signs(db_pool):
    rows = run(db_pool.execute("concat", "SELECT ? || '%', CASE WHEN 'ab%' LIKE 'a%' THEN 1 ELSE 0 END", "x"))
    assert rows == [("x%", 1)]


def test_execute_without_result_rows_returns_empty_list(db_pool):
    _make_table(db_pool)
    assert run(db_pool.execute("insert", "INSERT INTO t (v) VALUES (?)", 3)) == []
    assert _values(db_pool) == [3]


def test_transaction_sees_its_own_writes_and_iterates_rows(db_pool):
    _make_table(db_pool)

    def write_and_read(txn: LoggingTransaction) -> list[int]:
        txn.execute("INSERT INTO t (v) VALUES (1), (2), (3)")
        assert txn.rowcount == 3
        txn.execute("SELECT v FROM t ORDER BY v")
        assert [d[0] for d in txn.description] == ["v"]
        return [row[0] for row in txn]

    assert run(db_pool.runInteraction("write_and_read", write_and_read)) == [1, 2, 3]


# -- PostgreSQL only: real concurrency and isolation levels ----------------


@pytest.fixture
def pg_pool(tmp_path):
    from tests.support.databases import prepared_database

    db = prepared_database("psycopg2", tmp_path)
    try:
        yield db.pools[0] if db.pools else db.open()
    finally:
        db.cleanup()


def _race_two_increments(pool: DatabasePool, isolation_level: IsolationLevel | None) -> tuple[int, int]:
    """Two transactions read a counter, both wait until the other has read it
    too, then both write read+1. Returns (final value, attempts made)."""
    run(pool.execute("create", "CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)"))
    run(pool.execute("init", "INSERT INTO counter (id, n) VALUES (1, 0)"))
    both_read = threading.Barrier(2, timeout=10)
    attempts: list[str] = []

    def increment(txn: LoggingTransaction, who: str) -> None:
        attempts.append(who)
        txn.execute("SELECT n FROM counter WHERE id = 1")
        (n,) = txn.fetchone()
        if attempts.count(who) == 1:
            both_read.wait()
        txn.execute("UPDATE counter SET n = ? WHERE id = 1", (n + 1,))

    async def race() -> None:
        await defer.gatherResults(
            [
                defer.ensureDeferred(pool.runInteraction("increment", increment, who, isolation_level=isolation_level))
                for who in ("a", "b")
            ],
            consumeErrors=True,
        )

    run(race())
    (final,) = run(pool.execute("read", "SELECT n FROM counter WHERE id = 1"))[0]
    return final, len(attempts)


def test_postgres_serialization_failure_is_retried(pg_pool):
    retries_before = _counter(transaction_retries, "increment")
    final, attempts = _race_two_increments(pg_pool, IsolationLevel.REPEATABLE_READ)
    # The loser of the race failed with a real serialization failure, was
    # rerun with a fresh snapshot, and no increment was lost.
    assert final == 2
    assert attempts == 3
    assert _counter(transaction_retries, "increment") == retries_before + 1


def test_postgres_default_isolation_is_read_committed(pg_pool):
    # Under READ COMMITTED the same race loses an update instead of failing:
    # proof that the per-transaction level above was really applied.
    final, attempts = _race_two_increments(pg_pool, None)
    assert (final, attempts) == (1, 2)


def test_postgres_isolation_level_applies_to_one_transaction_only(pg_pool):
    def level(txn: LoggingTransaction) -> str:
        txn.execute("SHOW transaction_isolation")
        return txn.fetchone()[0]

    assert run(pg_pool.runInteraction("level", level, isolation_level=IsolationLevel.REPEATABLE_READ)) == "repeatable read"
    for _ in range(3):  # whichever pooled connection runs it
        assert run(pg_pool.runInteraction("level", level)) == "read committed"


def test_postgres_pool_reconnects_after_losing_its_connection(pg_pool):
    from tests.support.postgres import ensure_postgres

    def backend_pid(txn: LoggingTransaction) -> int:
        txn.execute("SELECT pg_backend_pid()")
        return txn.fetchone()[0]

    pids = {run(pg_pool.runInteraction("pid", backend_pid)) for _ in range(10)}
    admin = ensure_postgres().connect()
    with admin.cursor() as cur:
        for pid in pids:
            cur.execute("SELECT pg_terminate_backend(%s)", (pid,))
    admin.close()

    # Each interaction that meets a killed connection finds out before
    # COMMIT, so it is rerun on a new connection instead of failing.
    retries_before = _counter(transaction_retries, "pid")
    after = [run(pg_pool.runInteraction("pid", backend_pid)) for _ in range(10)]
    assert not set(after) & pids
    assert 1 <= _counter(transaction_retries, "pid") - retries_before <= len(pids)


def test_async_function_is_refused(db_pool):
    async def not_allowed(txn: LoggingTransaction) -> None:
        txn.execute("SELECT 1")

    with pytest.raises(TypeError, match="synchronous"):
        run(db_pool.runInteraction("async", not_allowed))
