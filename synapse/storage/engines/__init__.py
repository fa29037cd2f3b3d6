"""Database engines: everything that differs between SQLite and PostgreSQL.

Stores and the database pool run one code path for both databases; whatever
is dialect-specific lives behind `BaseDatabaseEngine`:

- `_base.py`     the engine interface, `IsolationLevel`, `IncorrectDatabaseSetup`
- `sqlite.py`    `Sqlite3Engine` (embedded default; one connection per process)
- `postgres.py`  `PostgresEngine` (psycopg2; several processes share it)

`create_engine(name, args)` picks one from the `database.name` config value.
"""

from collections.abc import Mapping
from typing import Any

from synapse.storage.engines._base import BaseDatabaseEngine, IncorrectDatabaseSetup, IsolationLevel
from synapse.storage.engines.postgres import PostgresEngine
from synapse.storage.engines.sqlite import Sqlite3Engine

__all__ = [
    "BaseDatabaseEngine",
    "IncorrectDatabaseSetup",
    "IsolationLevel",
    "PostgresEngine",
    "Sqlite3Engine",
    "create_engine",
]


def create_engine(name: str, args: Mapping[str, Any]) -> BaseDatabaseEngine:
    """The engine for `database.name` ("sqlite3" or "psycopg2") and its `args`."""
    if name == "sqlite3":
        return Sqlite3Engine(args)
    if name == "psycopg2":
        return PostgresEngine(args)
    raise ValueError(f"Unsupported database engine {name!r}: use 'sqlite3' or 'psycopg2'")
