"""SQLite: the embedded default for single-process deployments and tests.

One connection per process (SQLite serializes writers anyway); Python's
implicit transaction handling is switched off and every transaction is
opened with an explicit BEGIN, so reads and writes of one interaction see a
single snapshot and schema changes are transactional.
"""

import sqlite3
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from synapse.storage.engines._base import BaseDatabaseEngine, IncorrectDatabaseSetup, IsolationLevel

if TYPE_CHECKING:
    from synapse.storage.database import LoggingTransaction

# 3.27: upserts (3.24), window functions (3.25), stable since.
_MIN_SQLITE_VERSION = (3, 27, 0)

# The sqlite stand-in for PostgreSQL sequences (see 00_stream_sequences.sqlite.sql).
_SEQUENCES_TABLE = "stream_sequences"


class Sqlite3Engine(BaseDatabaseEngine):
    name = "sqlite3"
    module = sqlite3
    is_postgres = False
    supports_returning = sqlite3.sqlite_version_info >= (3, 35, 0)

    def __init__(self, args: Any) -> None:
        super().__init__(args)
        if sqlite3.sqlite_version_info < _MIN_SQLITE_VERSION:
            raise IncorrectDatabaseSetup(
                f"SQLite {sqlite3.sqlite_version} is too old: at least "
                f"{'.'.join(map(str, _MIN_SQLITE_VERSION))} is required"
            )
        self.database = str(self.config_args.get("database", ":memory:"))

    @property
    def is_in_memory(self) -> bool:
        return self.database == ":memory:" or self.database.startswith("file::memory:")

    def connection_kwargs(self) -> dict[str, Any]:
        return {
            "database": self.database,
            # adbapi may open the connection on one pool thread and close it
            # from the reactor thread; the pool itself has a single thread.
            "check_same_thread": False,
            # autocommit mode: `start_transaction` issues BEGIN itself.
            "isolation_level": None,
            "timeout": float(self.config_args.get("timeout", 5.0)),
        }

    def pool_size(self) -> tuple[int, int]:
        return 1, 1

    def on_new_connection(self, conn: sqlite3.Connection) -> None:
        if not self.is_in_memory:
            conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")

    def start_transaction(self, conn: Any, isolation_level: IsolationLevel | None, autocommit: bool) -> None:
        if not autocommit:  # the connection itself is in autocommit mode
            conn.execute("BEGIN")

    def end_transaction(self, conn: Any, isolation_level: IsolationLevel | None, autocommit: bool) -> None:
        """Nothing to undo: SQLite has no per-transaction settings here."""

    def convert_param_style(self, sql: str) -> str:
        return sql

    def is_retryable(self, exc: BaseException) -> bool:
        if not isinstance(exc, sqlite3.OperationalError):
            return False
        message = str(exc)
        return "database is locked" in message or "database table is locked" in message

    def executemany(self, cursor: Any, sql: str, rows: list[Any]) -> None:
        cursor.executemany(sql, rows)

    def insert_many(self, cursor: Any, table: str, keys: Sequence[str], rows: list[Any]) -> None:
        cursor.executemany(f"INSERT INTO {table} ({', '.join(keys)}) VALUES ({', '.join('?' * len(keys))})", rows)

    def in_list_clause(self, column: str, values: Iterable[Any]) -> tuple[str, list[Any]]:
        args = list(values)
        return f"{column} IN ({','.join('?' * len(args))})", args

    def execute_script(self, cursor: Any, script: str) -> None:
        # `executescript` would COMMIT first; split on complete statements
        # instead so the whole file stays inside the caller's transaction.
        statement = ""
        for line in script.splitlines(keepends=True):
            statement += line
            if sqlite3.complete_statement(statement):
                cursor.execute(statement)
                statement = ""
        if statement.strip() and not _only_comments(statement):
            raise ValueError(f"Incomplete SQL statement at end of script: {statement.strip()[:200]!r}")

    def table_exists_txn(self, txn: "LoggingTransaction", table: str) -> bool:
        txn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,))
        return txn.fetchone() is not None

    def lock_schema_txn(self, txn: "LoggingTransaction") -> None:
        """SQLite serializes writers itself: a second upgrader's first write
        fails with 'database is locked', which is retried."""

    def ensure_sequence_txn(self, txn: "LoggingTransaction", name: str, minimum: int) -> None:
        txn.execute(
            f"INSERT INTO {_SEQUENCES_TABLE} (name, last_value) VALUES (?, ?)"
            f" ON CONFLICT (name) DO UPDATE SET last_value = CASE"
            f" WHEN excluded.last_value > {_SEQUENCES_TABLE}.last_value THEN excluded.last_value"
            f" ELSE {_SEQUENCES_TABLE}.last_value END",
            (name, max(minimum, 0)),
        )

    def get_sequence_value_txn(self, txn: "LoggingTransaction", name: str) -> int:
        txn.execute(f"SELECT last_value FROM {_SEQUENCES_TABLE} WHERE name = ?", (name,))
        row = txn.fetchone()
        if row is None:
            raise LookupError(f"Sequence {name!r} does not exist")
        return int(row[0])

    def allocate_from_sequence_txn(self, txn: "LoggingTransaction", name: str, n: int) -> list[int]:
        txn.execute(f"UPDATE {_SEQUENCES_TABLE} SET last_value = last_value + ? WHERE name = ?", (n, name))
        if txn.rowcount != 1:
            raise LookupError(f"Sequence {name!r} does not exist")
        last = self.get_sequence_value_txn(txn, name)
        return list(range(last - n + 1, last + 1))


def _only_comments(text: str) -> bool:
    return all(not line.strip() or line.strip().startswith("--") for line in text.splitlines())
