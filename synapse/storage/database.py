"""The database pool every store runs its SQL through.

`DatabasePool.runInteraction(desc, func, ...)` runs `func(txn, ...)` in a
database thread inside one transaction, commits, and reruns it from scratch
(bounded, with backoff) when the engine says the failure was transient:
PostgreSQL serialization failures and deadlocks, SQLite's "database is
locked", or a PostgreSQL connection that died before COMMIT (it is replaced
by a new one). `func` must therefore be safe to rerun: keep side effects outside
the database in `txn.call_after` callbacks, which run on the reactor thread
once the transaction has committed.

SQL is written with `?` placeholders for both engines; `LoggingTransaction`
converts it and logs each statement at DEBUG on the `synapse.storage.SQL`
logger. The `simple_*` helpers cover the everyday single-table statements,
each as an `async` method and as a static `*_txn` variant to compose inside
a larger interaction. The single-statement helpers run with
`db_autocommit`, which spares PostgreSQL a BEGIN and a COMMIT round trip.
"""

import inspect
import logging
import random
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

import attrs
from twisted.enterprise import adbapi
from twisted.internet.interfaces import IReactorCore

from synapse.api.errors import Codes, SynapseError
from synapse.metrics.database import record_transaction
from synapse.storage.engines import BaseDatabaseEngine, IsolationLevel, create_engine

logger = logging.getLogger(__name__)
sql_logger = logging.getLogger("synapse.storage.SQL")

R = TypeVar("R")

#: how many times one interaction is attempted before a transient error is raised
MAX_TRANSACTION_ATTEMPTS = 6
#: rows per statement for `simple_select_many` (SQLite caps bound variables)
SELECT_MANY_BATCH_SIZE = 500


class StoreError(SynapseError):
    """A storage-level failure that maps to an HTTP status (404: no such row)."""

    def __init__(self, code: int, msg: str, errcode: str | None = None) -> None:
        if errcode is None:
            errcode = Codes.NOT_FOUND if code == 404 else Codes.UNKNOWN
        super().__init__(code, msg, errcode)


def retry_delay(attempt: int) -> float:
    """Seconds to wait before rerunning after failed attempt number `attempt`
    (1-based): exponential from 10ms, capped at 1s, jittered so contending
    transactions do not collide again in lockstep."""
    return min(0.01 * 2 ** (attempt - 1), 1.0) * random.uniform(0.5, 1.5)


_Callback = tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]


class LoggingTransaction:
    """A DB-API cursor for one transaction attempt: converts `?` placeholders
    for the engine, logs statements, and collects post-commit callbacks."""

    __slots__ = ("_after_callbacks", "_exception_callbacks", "database_engine", "desc", "txn")

    def __init__(
        self,
        txn: Any,
        desc: str,
        database_engine: BaseDatabaseEngine,
        after_callbacks: list[_Callback],
        exception_callbacks: list[_Callback],
    ) -> None:
        self.txn = txn
        self.desc = desc
        self.database_engine = database_engine
        self._after_callbacks = after_callbacks
        self._exception_callbacks = exception_callbacks

    def call_after(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Run `fn(*args, **kwargs)` on the reactor thread after this
        transaction commits (not if it rolls back or is retried)."""
        self._after_callbacks.append((fn, args, kwargs))

    def call_on_exception(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Run `fn(*args, **kwargs)` on the reactor thread if the interaction
        finally fails (callbacks of attempts that were retried are dropped)."""
        self._exception_callbacks.append((fn, args, kwargs))

    def execute(self, sql: str, args: Sequence[Any] = ()) -> None:
        self._run(self.txn.execute, sql, args)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        rows = list(rows)
        if rows:
            self._run(lambda converted, r: self.database_engine.executemany(self.txn, converted, r), sql, rows)

    def insert_many(self, table: str, keys: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        """INSERT of many rows, the engine's fastest way: on PostgreSQL one
        multi-row statement, where a batch of one statement per row costs
        the server a parse and plan per row (an event's push actions are a
        row per notified member)."""
        rows = list(rows)
        if rows:
            logged = f"INSERT INTO {table} ({', '.join(keys)}) VALUES <{len(rows)} rows>"
            self._run(lambda _sql, r: self.database_engine.insert_many(self.txn, table, keys, r), logged, rows)

    def _run(self, method: Callable[[str, Any], Any], sql: str, args: Any) -> None:
        converted = self.database_engine.convert_param_style(sql)
        if sql_logger.isEnabledFor(logging.DEBUG):
            sql_logger.debug("[SQL] {%s} %s %r", self.desc, " ".join(sql.split()), args)
        start = time.monotonic()
        try:
            method(converted, args)
        finally:
            if sql_logger.isEnabledFor(logging.DEBUG):
                sql_logger.debug("[SQL time] {%s} %.3fms", self.desc, (time.monotonic() - start) * 1000)

    def fetchone(self) -> tuple | None:
        return self.txn.fetchone()

    def fetchall(self) -> list[tuple]:
        return self.txn.fetchall()

    def fetchmany(self, size: int) -> list[tuple]:
        return self.txn.fetchmany(size)

    def __iter__(self) -> Iterator[tuple]:
        return iter(self.txn)

    @property
    def rowcount(self) -> int:
        return self.txn.rowcount

    @property
    def description(self) -> Any:
        return self.txn.description

    def close(self) -> None:
        self.txn.close()


@attrs.define
class _Timings:
    queued_at: float
    started_at: float = 0.0
    retries: int = 0


def _run_callbacks(callbacks: list[_Callback], kind: str, desc: str) -> None:
    for fn, args, kwargs in callbacks:
        try:
            fn(*args, **kwargs)
        except Exception:
            logger.exception("[TXN %s] %s callback %r failed", desc, kind, fn)


class DatabasePool:
    """A pool of connections to one database, plus the transaction runner."""

    def __init__(self, reactor: IReactorCore, engine: BaseDatabaseEngine, pool: adbapi.ConnectionPool) -> None:
        self.reactor = reactor
        self.engine = engine
        self._pool = pool

    async def runInteraction(
        self,
        desc: str,
        func: Callable[..., R],
        *args: Any,
        isolation_level: IsolationLevel | None = None,
        db_autocommit: bool = False,
        **kwargs: Any,
    ) -> R:
        """Run `func(txn, *args, **kwargs)` in one transaction and return its
        result; see the module docstring for retries and callbacks.

        `db_autocommit=True` runs each statement in its own transaction,
        saving PostgreSQL the BEGIN and COMMIT round trips: only for
        functions whose single statement (or idempotent reads) need no
        atomicity across statements."""
        after: list[_Callback] = []
        on_exception: list[_Callback] = []
        timings = _Timings(queued_at=time.monotonic())
        try:
            result = await self._pool.runWithConnection(
                self._new_transaction,
                desc,
                timings,
                after,
                on_exception,
                func,
                args,
                kwargs,
                isolation_level,
                db_autocommit,
            )
        except BaseException:
            self._record(desc, timings, failed=True)
            _run_callbacks(on_exception, "exception", desc)
            raise
        self._record(desc, timings, failed=False)
        _run_callbacks(after, "after", desc)
        return result

    @staticmethod
    def _record(desc: str, timings: _Timings, failed: bool) -> None:
        now = time.monotonic()
        started = timings.started_at or now
        record_transaction(desc, started - timings.queued_at, now - started, timings.retries, failed)

    def _new_transaction(
        self,
        conn: Any,
        desc: str,
        timings: _Timings,
        after: list[_Callback],
        on_exception: list[_Callback],
        func: Callable[..., R],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        isolation_level: IsolationLevel | None,
        autocommit: bool,
    ) -> R:
        """Runs in a database thread: attempt `func` until it commits, fails
        for good, or runs out of attempts."""
        timings.started_at = time.monotonic()
        for attempt in range(1, MAX_TRANSACTION_ATTEMPTS + 1):
            attempt_after: list[_Callback] = []
            attempt_on_exception: list[_Callback] = []
            committing = False
            txn = LoggingTransaction(conn.cursor(), desc, self.engine, attempt_after, attempt_on_exception)
            try:
                self.engine.start_transaction(conn, isolation_level, autocommit)
                result = func(txn, *args, **kwargs)
                committing = True
                conn.commit()
            except Exception as exc:
                retry = attempt < MAX_TRANSACTION_ATTEMPTS
                if not self._rollback(conn, desc):
                    # The connection died. Nothing was committed unless it died
                    # during COMMIT (or between autocommit statements): only
                    # then is rerunning on a new connection unsafe.
                    retry = retry and not committing and not autocommit and self._pool.reconnect
                    retry = retry and self._reconnect(conn, desc)
                    reason = "lost its database connection"
                elif self.engine.is_retryable(exc):
                    reason = "transient failure"
                else:
                    retry = False
                if retry:
                    delay = retry_delay(attempt)
                    timings.retries += 1
                    logger.warning(
                        "[TXN %s] %s (%s: %s); retrying in %.0fms (attempt %d of %d)",
                        desc,
                        reason,
                        type(exc).__name__,
                        str(exc).strip(),
                        delay * 1000,
                        attempt + 1,
                        MAX_TRANSACTION_ATTEMPTS,
                    )
                    time.sleep(delay)
                    continue
                on_exception.extend(attempt_on_exception)
                raise
            finally:
                try:
                    txn.close()
                except self.engine.module.Error:
                    logger.debug("[TXN %s] closing the cursor failed (connection gone?)", desc, exc_info=True)
                self.engine.end_transaction(conn, isolation_level, autocommit)
            if inspect.iscoroutine(result):
                result.close()
                raise TypeError(f"runInteraction({desc!r}) got an async function; it must be synchronous")
            after.extend(attempt_after)
            return result
        raise AssertionError("unreachable: the last attempt returns or raises")

    @staticmethod
    def _rollback(conn: Any, desc: str) -> bool:
        """Roll back; False if the connection turned out to be dead (adbapi
        then drops it from the pool)."""
        try:
            conn.rollback()
        except Exception:
            logger.warning("[TXN %s] rollback failed: database connection lost", desc, exc_info=True)
            return False
        return True

    @staticmethod
    def _reconnect(conn: Any, desc: str) -> bool:
        """Give adbapi's connection wrapper a fresh connection in place of
        the dead one it already discarded; False if the database is down."""
        conn._connection = None  # adbapi's own attribute: the discarded connection
        try:
            conn.reconnect()
        except Exception:
            logger.warning("[TXN %s] could not reconnect to the database", desc, exc_info=True)
            return False
        return True

    async def execute(self, desc: str, sql: str, *args: Any) -> list[tuple]:
        """Run one statement in its own transaction; return its rows (if any)."""

        def _execute(txn: LoggingTransaction) -> list[tuple]:
            txn.execute(sql, args)
            return txn.fetchall() if txn.description is not None else []

        return await self.runInteraction(desc, _execute, db_autocommit=True)

    async def close(self) -> None:
        """Close every connection and stop the pool's threads."""
        self._pool.close()

    # -- inserts and upserts -------------------------------------------------

    async def simple_insert(self, table: str, values: Mapping[str, Any], desc: str = "simple_insert") -> None:
        await self.runInteraction(desc, self.simple_insert_txn, table, values, db_autocommit=True)

    @staticmethod
    def simple_insert_txn(txn: LoggingTransaction, table: str, values: Mapping[str, Any]) -> None:
        keys = list(values)
        txn.execute(
            f"INSERT INTO {table} ({', '.join(keys)}) VALUES ({', '.join('?' * len(keys))})",
            [values[k] for k in keys],
        )

    async def simple_insert_many(
        self, table: str, keys: Collection[str], values: Iterable[Sequence[Any]], desc: str = "simple_insert_many"
    ) -> None:
        await self.runInteraction(desc, self.simple_insert_many_txn, table, keys, list(values))

    @staticmethod
    def simple_insert_many_txn(
        txn: LoggingTransaction, table: str, keys: Collection[str], values: Iterable[Sequence[Any]]
    ) -> None:
        txn.insert_many(table, list(keys), values)

    async def simple_upsert(
        self,
        table: str,
        keyvalues: Mapping[str, Any],
        values: Mapping[str, Any],
        insertion_values: Mapping[str, Any] | None = None,
        desc: str = "simple_upsert",
    ) -> None:
        await self.runInteraction(
            desc, self.simple_upsert_txn, table, keyvalues, values, insertion_values, db_autocommit=True
        )

    @staticmethod
    def simple_upsert_txn(
        txn: LoggingTransaction,
        table: str,
        keyvalues: Mapping[str, Any],
        values: Mapping[str, Any],
        insertion_values: Mapping[str, Any] | None = None,
    ) -> None:
        """Insert the row, or update `values` on the row matching `keyvalues`.

        `insertion_values` are only written when the row is new. The key
        columns must carry a unique index or primary key."""
        row = {**keyvalues, **(insertion_values or {}), **values}
        cols = list(row)
        if values:
            on_conflict = "DO UPDATE SET " + ", ".join(f"{c} = excluded.{c}" for c in values)
        else:
            on_conflict = "DO NOTHING"
        txn.execute(
            f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
            f" ON CONFLICT ({', '.join(keyvalues)}) {on_conflict}",
            [row[c] for c in cols],
        )

    # -- selects -------------------------------------------------------------

    async def simple_select_one(
        self,
        table: str,
        keyvalues: Mapping[str, Any],
        retcols: Sequence[str],
        allow_none: bool = False,
        desc: str = "simple_select_one",
    ) -> dict[str, Any] | None:
        return await self.runInteraction(
            desc, self.simple_select_one_txn, table, keyvalues, retcols, allow_none, db_autocommit=True
        )

    @staticmethod
    def simple_select_one_txn(
        txn: LoggingTransaction,
        table: str,
        keyvalues: Mapping[str, Any],
        retcols: Sequence[str],
        allow_none: bool = False,
    ) -> dict[str, Any] | None:
        """The one matching row as a dict; None (if `allow_none`) or
        StoreError(404) when there is none."""
        where, args = _where_clause(keyvalues)
        txn.execute(f"SELECT {', '.join(retcols)} FROM {table}{where}", args)
        row = txn.fetchone()
        if row is None:
            if allow_none:
                return None
            raise StoreError(404, f"No row found in {table}")
        if txn.fetchone() is not None:
            raise StoreError(500, f"More than one row matched in {table}")
        return dict(zip(retcols, row))

    async def simple_select_one_onecol(
        self,
        table: str,
        keyvalues: Mapping[str, Any],
        retcol: str,
        allow_none: bool = False,
        desc: str = "simple_select_one_onecol",
    ) -> Any:
        return await self.runInteraction(
            desc, self.simple_select_one_onecol_txn, table, keyvalues, retcol, allow_none, db_autocommit=True
        )

    @staticmethod
    def simple_select_one_onecol_txn(
        txn: LoggingTransaction, table: str, keyvalues: Mapping[str, Any], retcol: str, allow_none: bool = False
    ) -> Any:
        row = DatabasePool.simple_select_one_txn(txn, table, keyvalues, (retcol,), allow_none)
        return None if row is None else row[retcol]

    async def simple_select_onecol(
        self, table: str, keyvalues: Mapping[str, Any] | None, retcol: str, desc: str = "simple_select_onecol"
    ) -> list[Any]:
        return await self.runInteraction(
            desc, self.simple_select_onecol_txn, table, keyvalues, retcol, db_autocommit=True
        )

    @staticmethod
    def simple_select_onecol_txn(
        txn: LoggingTransaction, table: str, keyvalues: Mapping[str, Any] | None, retcol: str
    ) -> list[Any]:
        """One column of every matching row."""
        where, args = _where_clause(keyvalues)
        txn.execute(f"SELECT {retcol} FROM {table}{where}", args)
        return [row[0] for row in txn]

    async def simple_select_list(
        self,
        table: str,
        keyvalues: Mapping[str, Any] | None,
        retcols: Sequence[str],
        desc: str = "simple_select_list",
    ) -> list[dict[str, Any]]:
        return await self.runInteraction(
            desc, self.simple_select_list_txn, table, keyvalues, retcols, db_autocommit=True
        )

    @staticmethod
    def simple_select_list_txn(
        txn: LoggingTransaction, table: str, keyvalues: Mapping[str, Any] | None, retcols: Sequence[str]
    ) -> list[dict[str, Any]]:
        """Every row matching `keyvalues` (all rows if empty/None) as dicts."""
        where, args = _where_clause(keyvalues)
        txn.execute(f"SELECT {', '.join(retcols)} FROM {table}{where}", args)
        return [dict(zip(retcols, row)) for row in txn]

    async def simple_select_many(
        self,
        table: str,
        column: str,
        iterable: Iterable[Any],
        retcols: Sequence[str],
        keyvalues: Mapping[str, Any] | None = None,
        desc: str = "simple_select_many",
    ) -> list[dict[str, Any]]:
        values = list(iterable)
        if not values:
            return []
        return await self.runInteraction(desc, self.simple_select_many_txn, table, column, values, retcols, keyvalues)

    @staticmethod
    def simple_select_many_txn(
        txn: LoggingTransaction,
        table: str,
        column: str,
        iterable: Iterable[Any],
        retcols: Sequence[str],
        keyvalues: Mapping[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        """Rows whose `column` is any of `iterable` (and matching `keyvalues`),
        queried in batches of SELECT_MANY_BATCH_SIZE values."""
        values = list(iterable)
        results: list[dict[str, Any]] = []
        for start in range(0, len(values), SELECT_MANY_BATCH_SIZE):
            in_sql, in_args = txn.database_engine.in_list_clause(column, values[start : start + SELECT_MANY_BATCH_SIZE])
            where, args = _where_clause(keyvalues)
            where = f"{where} AND {in_sql}" if where else f" WHERE {in_sql}"
            txn.execute(f"SELECT {', '.join(retcols)} FROM {table}{where}", [*args, *in_args])
            results.extend(dict(zip(retcols, row)) for row in txn)
        return results

    # -- updates and deletes -------------------------------------------------

    async def simple_update(
        self,
        table: str,
        keyvalues: Mapping[str, Any],
        updatevalues: Mapping[str, Any],
        desc: str = "simple_update",
    ) -> int:
        return await self.runInteraction(
            desc, self.simple_update_txn, table, keyvalues, updatevalues, db_autocommit=True
        )

    @staticmethod
    def simple_update_txn(
        txn: LoggingTransaction, table: str, keyvalues: Mapping[str, Any], updatevalues: Mapping[str, Any]
    ) -> int:
        """Update matching rows; return how many matched."""
        where, args = _where_clause(keyvalues)
        sets = ", ".join(f"{c} = ?" for c in updatevalues)
        txn.execute(f"UPDATE {table} SET {sets}{where}", [*updatevalues.values(), *args])
        return txn.rowcount

    async def simple_update_one(
        self,
        table: str,
        keyvalues: Mapping[str, Any],
        updatevalues: Mapping[str, Any],
        desc: str = "simple_update_one",
    ) -> None:
        await self.runInteraction(desc, self.simple_update_one_txn, table, keyvalues, updatevalues)

    @staticmethod
    def simple_update_one_txn(
        txn: LoggingTransaction, table: str, keyvalues: Mapping[str, Any], updatevalues: Mapping[str, Any]
    ) -> None:
        """Update exactly one row: StoreError(404) if none matched, StoreError(500)
        (and the transaction rolls back) if several did."""
        count = DatabasePool.simple_update_txn(txn, table, keyvalues, updatevalues)
        if count == 0:
            raise StoreError(404, f"No row found in {table}")
        if count > 1:
            raise StoreError(500, f"More than one row matched in {table}")

    async def simple_delete(self, table: str, keyvalues: Mapping[str, Any], desc: str = "simple_delete") -> int:
        return await self.runInteraction(desc, self.simple_delete_txn, table, keyvalues, db_autocommit=True)

    @staticmethod
    def simple_delete_txn(txn: LoggingTransaction, table: str, keyvalues: Mapping[str, Any]) -> int:
        """Delete matching rows; return how many. Refuses an empty filter, which
        would empty the table."""
        if not keyvalues:
            raise ValueError(f"simple_delete on {table} needs keyvalues")
        where, args = _where_clause(keyvalues)
        txn.execute(f"DELETE FROM {table}{where}", args)
        return txn.rowcount


def _where_clause(keyvalues: Mapping[str, Any] | None) -> tuple[str, list[Any]]:
    """` WHERE a = ? AND b IS NULL` for the given columns (None matches NULL)."""
    if not keyvalues:
        return "", []
    parts = [f"{k} IS NULL" if v is None else f"{k} = ?" for k, v in keyvalues.items()]
    return " WHERE " + " AND ".join(parts), [v for v in keyvalues.values() if v is not None]


def make_database_pool(reactor: IReactorCore, name: str, args: Mapping[str, Any]) -> DatabasePool:
    """A pool for `database.name`/`database.args` from the config.

    Call on the reactor thread. SQLite gets one connection (`database` may be
    ":memory:" for tests); PostgreSQL keeps `cp_min`..`cp_max` connections
    and reconnects after a connection is lost."""
    engine = create_engine(name, args)
    cp_min, cp_max = engine.pool_size()
    pool = adbapi.ConnectionPool(
        engine.module.__name__,
        cp_reactor=reactor,
        cp_min=cp_min,
        cp_max=cp_max,
        cp_name=f"db-{name}",
        cp_openfun=engine.on_new_connection,
        cp_reconnect=engine.is_postgres,
        cp_noisy=False,
        **engine.connection_kwargs(),
    )
    return DatabasePool(reactor, engine, pool)
