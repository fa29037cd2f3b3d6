"""Fresh databases of either engine for tests, opened as `DatabasePool`s.

    db = TestDatabase.fresh("psycopg2", tmp_path)   # empty database
    pool = db.open()                                # a pool on it (reactor thread handled)
    run(prepare_database(pool))
    ...
    db.cleanup()                                    # closes pools, drops the database

`prepared_pool(engine_name)` is the fast path behind the `db_pool` fixture:
SQLite in memory, or PostgreSQL cloned from a template database that was
prepared once per session.
"""

import atexit
import threading
from pathlib import Path
from typing import Any

import attrs

from synapse.storage.database import DatabasePool, make_database_pool
from synapse.storage.prepare import prepare_database
from tests.support.postgres import PostgresInfo, create_database, drop_database, ensure_postgres
from tests.support.twisted import run

ENGINES = ("sqlite3", "psycopg2")

_template_lock = threading.Lock()
_templates: dict[tuple[str, int], str] = {}


@attrs.define
class TestDatabase:
    """One throwaway database; `open()` may be called repeatedly (e.g. to
    simulate a restart, or two processes sharing the database)."""

    __test__ = False  # not a pytest test class

    engine_name: str
    args: dict[str, Any]
    postgres: PostgresInfo | None = None
    pools: list[DatabasePool] = attrs.field(factory=list)

    @classmethod
    def fresh(cls, engine_name: str, tmp_dir: Path, template: str = "template0") -> "TestDatabase":
        """An empty database (SQLite: a file in `tmp_dir`, so it survives
        reopening; PostgreSQL: a new database, cloned from `template`)."""
        if engine_name == "sqlite3":
            return cls(engine_name, {"database": str(tmp_dir / "homeserver.db")})
        if engine_name == "psycopg2":
            info = ensure_postgres()
            name = create_database(info, template=template)
            return cls(engine_name, info.database_args(name, cp_min=1, cp_max=5), postgres=info)
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
        if self.postgres is not None:
            drop_database(self.postgres, self.args["database"])


def prepared_database(engine_name: str, tmp_dir: Path) -> TestDatabase:
    """A database with the full schema applied (fast: see module docstring)."""
    if engine_name == "sqlite3":
        db = TestDatabase(engine_name, {"database": ":memory:"})
        run(prepare_database(db.open()))
        return db
    return TestDatabase.fresh(engine_name, tmp_dir, template=_prepared_template(ensure_postgres()))


def _prepared_template(info: PostgresInfo) -> str:
    key = (info.host, info.port)
    with _template_lock:
        if key not in _templates:
            db = TestDatabase.fresh("psycopg2", Path("/nonexistent"))
            run(prepare_database(db.open()))
            for pool in db.pools:
                run(pool.close())
            name = db.args["database"]
            atexit.register(drop_database, info, name)
            _templates[key] = name
        return _templates[key]
