"""PostgreSQL via psycopg2: the database for workers and larger servers.

Connections default to READ COMMITTED; an interaction may ask for a stricter
level (the event persister uses REPEATABLE READ) and gets it for that
transaction only. Databases must use UTF8 with the 'C' collation and ctype:
other collations order text differently between machines and make indexes
silently unusable after an OS upgrade.
"""

import logging
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import psycopg2
import psycopg2.errors
import psycopg2.extensions
import psycopg2.extras

from synapse.storage.engines._base import (
    BaseDatabaseEngine,
    IncorrectDatabaseSetup,
    IsolationLevel,
    check_identifier,
)

if TYPE_CHECKING:
    from synapse.storage.database import LoggingTransaction

logger = logging.getLogger(__name__)

_MIN_SERVER_VERSION = 110000  # PostgreSQL 11
_DEFAULT_ISOLATION = IsolationLevel.READ_COMMITTED
# Config args that are ours, not psycopg2's.
_POOL_ARGS = {"cp_min", "cp_max", "allow_unsafe_locale"}
# pg_advisory_xact_lock keys: (namespace, id) pairs private to this server.
_LOCK_NAMESPACE = 0x53594E  # "SYN"
_SCHEMA_LOCK_ID = 1
_RETRYABLE_SQLSTATES = {"40001", "40P01"}  # serialization_failure, deadlock_detected


class PostgresEngine(BaseDatabaseEngine):
    name = "psycopg2"
    module = psycopg2
    is_postgres = True
    supports_returning = True

    def __init__(self, args: Any) -> None:
        super().__init__(args)
        self._database_checked = False

    def connection_kwargs(self) -> dict[str, Any]:
        return {k: v for k, v in self.config_args.items() if k not in _POOL_ARGS}

    def pool_size(self) -> tuple[int, int]:
        return int(self.config_args.get("cp_min", 5)), int(self.config_args.get("cp_max", 10))

    def on_new_connection(self, conn: Any) -> None:
        try:
            if conn.server_version < _MIN_SERVER_VERSION:
                raise IncorrectDatabaseSetup(
                    f"PostgreSQL {conn.server_version} is too old: version 11 or later is required"
                )
            conn.set_session(isolation_level=_DEFAULT_ISOLATION.value, autocommit=False)
            conn.set_client_encoding("UTF8")
            if not self._database_checked:
                self._check_database(conn)
                self._database_checked = True
        except Exception:
            conn.close()  # adbapi forgets a connection whose setup failed
            raise

    def _check_database(self, conn: Any) -> None:
        cursor = conn.cursor()
        cursor.execute(
            "SELECT current_database(), pg_encoding_to_char(encoding), datcollate, datctype"
            " FROM pg_database WHERE datname = current_database()"
        )
        name, encoding, collate, ctype = cursor.fetchone()
        cursor.close()
        conn.rollback()
        recipe = (
            f"Create the database with: CREATE DATABASE {name} ENCODING 'UTF8'"
            " LC_COLLATE='C' LC_CTYPE='C' TEMPLATE template0 OWNER <user>;"
        )
        if encoding != "UTF8":
            raise IncorrectDatabaseSetup(f"Database {name!r} has encoding {encoding!r}, but UTF8 is required. {recipe}")
        problems = [
            f"{what} is {value!r}" for what, value in (("LC_COLLATE", collate), ("LC_CTYPE", ctype)) if value != "C"
        ]
        if problems:
            message = f"Database {name!r} has the wrong locale: {', '.join(problems)}; 'C' is required. {recipe}"
            if not self.config_args.get("allow_unsafe_locale"):
                raise IncorrectDatabaseSetup(
                    message + " (Or set allow_unsafe_locale: true in the database args, at your own risk.)"
                )
            logger.warning("%s Continuing because allow_unsafe_locale is set.", message)

    # psycopg2 keeps session settings client-side and sends them with the
    # next BEGIN, so switching them per transaction costs no round trip.

    def start_transaction(self, conn: Any, isolation_level: IsolationLevel | None, autocommit: bool) -> None:
        if autocommit:
            conn.set_session(autocommit=True)  # a method: adbapi proxies it to the connection
        if isolation_level is not None and isolation_level != _DEFAULT_ISOLATION:
            conn.set_session(isolation_level=isolation_level.value)

    def end_transaction(self, conn: Any, isolation_level: IsolationLevel | None, autocommit: bool) -> None:
        if conn.closed or conn.status != psycopg2.extensions.STATUS_READY:
            return
        if autocommit:
            conn.set_session(autocommit=False)
        if isolation_level is not None and isolation_level != _DEFAULT_ISOLATION:
            conn.set_session(isolation_level=_DEFAULT_ISOLATION.value)

    def convert_param_style(self, sql: str) -> str:
        # psycopg2 formats with `%`, so literal percent signs must be doubled;
        # arguments are always passed (possibly empty) so this is consistent.
        return sql.replace("%", "%%").replace("?", "%s")

    def is_retryable(self, exc: BaseException) -> bool:
        if isinstance(exc, (psycopg2.errors.SerializationFailure, psycopg2.errors.DeadlockDetected)):
            return True
        return getattr(exc, "pgcode", None) in _RETRYABLE_SQLSTATES

    def executemany(self, cursor: Any, sql: str, rows: list[Any]) -> None:
        # psycopg2's executemany makes one round trip per row; execute_batch
        # sends them in pages. (The cursor's rowcount then covers the last page.)
        psycopg2.extras.execute_batch(cursor, sql, rows, page_size=200)

    def insert_many(self, cursor: Any, table: str, keys: Sequence[str], rows: list[Any]) -> None:
        psycopg2.extras.execute_values(
            cursor, f"INSERT INTO {table} ({', '.join(keys)}) VALUES %s", rows, page_size=1000
        )

    def in_list_clause(self, column: str, values: Iterable[Any]) -> tuple[str, list[Any]]:
        return f"{column} = ANY(?)", [list(values)]

    def execute_script(self, cursor: Any, script: str) -> None:
        if script.strip():
            cursor.execute(script)

    def table_exists_txn(self, txn: "LoggingTransaction", table: str) -> bool:
        txn.execute(
            "SELECT 1 FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = ?",
            (table,),
        )
        return txn.fetchone() is not None

    def lock_schema_txn(self, txn: "LoggingTransaction") -> None:
        txn.execute("SELECT pg_advisory_xact_lock(?, ?)", (_LOCK_NAMESPACE, _SCHEMA_LOCK_ID))

    def ensure_sequence_txn(self, txn: "LoggingTransaction", name: str, minimum: int) -> None:
        check_identifier(name)
        # Two processes creating the same sequence at once would collide in
        # the catalog despite IF NOT EXISTS; serialize them per name.
        txn.execute("SELECT pg_advisory_xact_lock(?, hashtext(?))", (_LOCK_NAMESPACE, name))
        txn.execute(f"CREATE SEQUENCE IF NOT EXISTS {name}")
        if minimum > self.get_sequence_value_txn(txn, name):
            txn.execute("SELECT setval(?, ?)", (name, minimum))

    def get_sequence_value_txn(self, txn: "LoggingTransaction", name: str) -> int:
        check_identifier(name)
        txn.execute(f"SELECT last_value, is_called FROM {name}")
        row = txn.fetchone()
        if row is None:
            raise LookupError(f"Sequence {name!r} returned no state")
        last_value, is_called = row
        return int(last_value) if is_called else int(last_value) - 1

    def allocate_from_sequence_txn(self, txn: "LoggingTransaction", name: str, n: int) -> list[int]:
        txn.execute("SELECT nextval(?) FROM generate_series(1, ?)", (name, n))
        return sorted(int(row[0]) for row in txn.fetchall())
