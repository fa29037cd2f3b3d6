"""The engine interface: the only place where SQLite and PostgreSQL differ.

Code above the engine writes SQL with `?` placeholders and portable syntax
(`INSERT .. ON CONFLICT`, `CASE`, `RETURNING` when `supports_returning`);
the engine converts placeholders, opens transactions, classifies errors and
provides the few primitives that have no portable spelling (sequences,
`IN` lists over many values, running a schema file, advisory locks).
"""

import abc
import enum
import re
from collections.abc import Iterable, Mapping, Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from synapse.storage.database import LoggingTransaction

# Names spliced into SQL (sequences, tables) must be plain identifiers.
_IDENTIFIER_RE = re.compile(r"^[a-z_][a-z0-9_]*$")


class IsolationLevel(enum.Enum):
    """Transaction isolation levels a caller may ask for (PostgreSQL honours
    them; SQLite transactions are always serializable)."""

    READ_COMMITTED = "READ COMMITTED"
    REPEATABLE_READ = "REPEATABLE READ"
    SERIALIZABLE = "SERIALIZABLE"


class IncorrectDatabaseSetup(RuntimeError):
    """The database server or database is configured in a way we refuse to
    run on (wrong encoding/collation, too old); the message says how to fix it."""


def check_identifier(name: str) -> str:
    """Return `name` if it is safe to splice into SQL as an identifier."""
    if not _IDENTIFIER_RE.match(name):
        raise ValueError(f"{name!r} is not a valid SQL identifier (want [a-z_][a-z0-9_]*)")
    return name


class BaseDatabaseEngine(abc.ABC):
    """One database dialect plus its DB-API module."""

    #: the `database.name` config value this engine serves
    name: str
    #: the DB-API module passed to adbapi (sqlite3 or psycopg2)
    module: ModuleType
    is_postgres: bool = False
    #: whether `INSERT/UPDATE/DELETE .. RETURNING` works
    supports_returning: bool = False

    def __init__(self, args: Mapping[str, Any]) -> None:
        self.config_args = dict(args)

    # -- connections -------------------------------------------------------

    @abc.abstractmethod
    def connection_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for `module.connect()`, from the config args."""

    @abc.abstractmethod
    def pool_size(self) -> tuple[int, int]:
        """(minimum, maximum) number of connections the pool keeps."""

    @abc.abstractmethod
    def on_new_connection(self, conn: Any) -> None:
        """Prepare a freshly opened raw DB-API connection (settings, checks).

        Raises `IncorrectDatabaseSetup` if the database is unusable."""

    @abc.abstractmethod
    def start_transaction(self, conn: Any, isolation_level: IsolationLevel | None, autocommit: bool) -> None:
        """Open a transaction on `conn` at `isolation_level` (None: default),
        or with `autocommit` run each statement in its own transaction."""

    @abc.abstractmethod
    def end_transaction(self, conn: Any, isolation_level: IsolationLevel | None, autocommit: bool) -> None:
        """Undo per-transaction settings after commit or rollback."""

    # -- SQL dialect -------------------------------------------------------

    @abc.abstractmethod
    def convert_param_style(self, sql: str) -> str:
        """Turn SQL written with `?` placeholders into the module's style."""

    @abc.abstractmethod
    def is_retryable(self, exc: BaseException) -> bool:
        """Whether a transaction that failed with `exc` may succeed if rerun
        from scratch (serialization failure, deadlock, database locked)."""

    @abc.abstractmethod
    def executemany(self, cursor: Any, sql: str, rows: list[Any]) -> None:
        """Run converted `sql` once per row, as fast as the module allows."""

    @abc.abstractmethod
    def insert_many(self, cursor: Any, table: str, keys: Sequence[str], rows: list[Any]) -> None:
        """INSERT every row into `table` (columns `keys`), as fast as the module allows."""

    @abc.abstractmethod
    def in_list_clause(self, column: str, values: Iterable[Any]) -> tuple[str, list[Any]]:
        """SQL testing `column` against every value, with its arguments."""

    @abc.abstractmethod
    def execute_script(self, cursor: Any, script: str) -> None:
        """Run a schema file's statements on a raw cursor inside the current
        transaction (no placeholder conversion)."""

    @abc.abstractmethod
    def table_exists_txn(self, txn: "LoggingTransaction", table: str) -> bool:
        """Whether `table` exists in the database's current schema."""

    @abc.abstractmethod
    def lock_schema_txn(self, txn: "LoggingTransaction") -> None:
        """Serialize schema upgrades between processes until the txn ends."""

    # -- sequences ---------------------------------------------------------

    @abc.abstractmethod
    def ensure_sequence_txn(self, txn: "LoggingTransaction", name: str, minimum: int) -> None:
        """Create sequence `name` if absent; make its last value >= `minimum`."""

    @abc.abstractmethod
    def get_sequence_value_txn(self, txn: "LoggingTransaction", name: str) -> int:
        """The last value handed out by sequence `name` (0 if none yet)."""

    @abc.abstractmethod
    def allocate_from_sequence_txn(self, txn: "LoggingTransaction", name: str, n: int) -> list[int]:
        """Take `n` new values from sequence `name`, ascending. Values are
        never handed out twice, even across processes."""
