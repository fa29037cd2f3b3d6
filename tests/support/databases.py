"""Fresh databases of either engine for tests, opened as `DatabasePool`s.

    db = TestDatabase.fresh("psycopg2", tmp_path)   # empty database
    pool = db.open()                                # a pool on it (reactor thread handled)
    run(prepare_database(pool))
    ...
    db.cleanup()                                    # closes pools, gives the database back

`prepared_database(engine_name, tmp_dir)` is the fast path behind the
`db_pool` fixture: SQLite in memory, or a PostgreSQL database prepared once
and reset after each test (see postgres_reuse.py).
"""

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import attrs

from synapse.storage.database import DatabasePool, make_database_pool
from synapse.storage.prepare import prepare_database
from tests.support.postgres import PostgresInfo, drop_database, ensure_postgres
from tests.support.postgres_reuse import EmptyDatabases, PreparedDatabases
from tests.support.twisted import run

T = TypeVar("T")

ENGINES = ("sqlite3", "psycopg2")

_reuse_lock = threading.Lock()
_prepared: dict[tuple[str, int], PreparedDatabases] = {}
_empties: dict[tuple[str, int], EmptyDatabases] = {}


@attrs.define
class TestDatabase:
    """One throwaway database; `open()` may be called repeatedly (e.g. to
    simulate a restart, or two processes sharing the database)."""

    __test__ = False  # not a pytest test class

    engine_name: str
    args: dict[str, Any]
    postgres: PostgresInfo | None = None
    #: called instead of dropping the database (reusable prepared databases)
    release: Callable[[str], None] | None = None
    pools: list[DatabasePool] = attrs.field(factory=list)

    @classmethod
    def fresh(cls, engine_name: str, tmp_dir: Path) -> "TestDatabase":
        """An empty database (SQLite: a file in `tmp_dir`, so it survives
        reopening; PostgreSQL: a database with an empty public schema)."""
        if engine_name == "sqlite3":
            return cls(engine_name, {"database": str(tmp_dir / "homeserver.db")})
        if engine_name == "psycopg2":
            info = ensure_postgres()
            empty = _reusable(_empties, info, EmptyDatabases)
            name = empty.acquire()
            return cls(engine_name, info.database_args(name, cp_min=1, cp_max=5), postgres=info, release=empty.release)
        raise ValueError(f"unknown engine {engine_name!r}")

    def open(self, **overrides: Any) -> DatabasePool:
        """A new pool on this database, closed by `cleanup()`."""
        from twisted.internet import reactor

        pool = run(lambda: make_database_pool(reactor, self.engine_name, {**self.args, **overrides}))
        self.pools.append(pool)
        return pool

    def cleanup(self) -> None:
        for pool in self.pools:
            run(pool.close())
        self.pools.clear()
        if self.release is not None:
            self.release(self.args["database"])
        elif self.postgres is not None:
            drop_database(self.postgres, self.args["database"])


def prepared_database(engine_name: str, tmp_dir: Path) -> TestDatabase:
    """A database with the full schema applied (fast: see module docstring)."""
    if engine_name == "sqlite3":
        db = TestDatabase(engine_name, {"database": ":memory:"})
        run(prepare_database(db.open()))
        return db
    info = ensure_postgres()
    reuse = _reusable(_prepared, info, PreparedDatabases.create)
    name = reuse.acquire()
    return TestDatabase(engine_name, info.database_args(name, cp_min=1, cp_max=5), postgres=info, release=reuse.release)


def _reusable(registry: dict[tuple[str, int], T], info: PostgresInfo, factory: Callable[[PostgresInfo], T]) -> T:
    key = (info.host, info.port)
    with _reuse_lock:
        if key not in registry:
            registry[key] = factory(info)
        return registry[key]
