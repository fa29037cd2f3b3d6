"""PostgreSQL test databases, reused between tests after a reset.

`EmptyDatabases` hands out empty databases: resetting one is dropping and
recreating its `public` schema.

`PreparedDatabases` hands out databases with the schema applied:

CREATE DATABASE copies a whole template and costs around a second on a busy
machine; applying the schema per test costs more as the schema grows. So the
schema is applied once, to a template database, and each test borrows a clone
of it. When the test is done the clone is put back the way it was prepared:

1. relations and functions the test created (its own tables, the sequences
   id generators create) are dropped;
2. a fingerprint of the schema (columns, indexes, constraints, functions,
   triggers, types) is compared with the template's; if the test changed
   the schema, the clone is dropped instead of reused;
3. tables that now hold rows are truncated, rows the schema files inserted
   are put back, and sequences are set back to their prepared values.
"""

import atexit
import logging
import threading
from typing import Any

import attrs
import psycopg2
from twisted.internet import reactor

from synapse.storage.database import make_database_pool
from synapse.storage.prepare import prepare_database
from tests.support.postgres import PostgresInfo, create_database, drop_database
from tests.support.twisted import run

logger = logging.getLogger(__name__)

_FINGERPRINT_SQL = """
SELECT md5(coalesce(string_agg(item, E'\\n' ORDER BY item), '')) FROM (
    SELECT 'rel ' || c.relname || ' ' || c.relkind::text FROM pg_class c
        WHERE c.relnamespace = current_schema()::regnamespace
    UNION ALL SELECT 'col ' || table_name || '.' || column_name || ' ' || data_type || ' '
        || coalesce(column_default, '') || ' ' || is_nullable
        FROM information_schema.columns WHERE table_schema = current_schema()
    UNION ALL SELECT 'idx ' || indexdef FROM pg_indexes WHERE schemaname = current_schema()
    UNION ALL SELECT 'con ' || conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint
        WHERE connamespace = current_schema()::regnamespace
    UNION ALL SELECT 'fn ' || p.oid::regprocedure::text FROM pg_proc p
        WHERE p.pronamespace = current_schema()::regnamespace
    UNION ALL SELECT 'trg ' || tgname || ' ' || tgrelid::regclass::text FROM pg_trigger WHERE NOT tgisinternal
    UNION ALL SELECT 'type ' || typname || ' ' || typtype::text FROM pg_type
        WHERE typnamespace = current_schema()::regnamespace AND typtype IN ('e', 'd', 'r', 'm')
) AS s(item)
"""

# relkind -> the DROP statement's object type
_DROPPABLE = {"r": "TABLE", "p": "TABLE", "v": "VIEW", "m": "MATERIALIZED VIEW", "S": "SEQUENCE", "f": "FOREIGN TABLE"}


@attrs.frozen
class _Snapshot:
    """The template database as prepared."""

    relations: frozenset[tuple[str, str]]
    functions: frozenset[str]
    fingerprint: str
    #: tables in creation order
    tables: tuple[str, ...]
    #: table -> (columns, rows) for tables the schema files put rows in
    seed_rows: dict[str, tuple[tuple[str, ...], list[tuple]]]
    #: sequence -> (last_value, is_called)
    sequences: dict[str, tuple[int, bool]]


def _query(cur: Any, sql: str, args: tuple = ()) -> list[tuple]:
    cur.execute(sql, args or None)  # no args: no %-formatting of the SQL
    return cur.fetchall()


def _relations(cur: Any) -> list[tuple[str, str]]:
    return [
        (name, kind)
        for name, kind in _query(
            cur,
            "SELECT relname, relkind FROM pg_class WHERE relnamespace = current_schema()::regnamespace"
            " AND relkind IN ('r', 'p', 'v', 'm', 'S', 'f') ORDER BY oid",
        )
    ]


def _functions(cur: Any) -> list[str]:
    return [row[0] for row in _query(cur, "SELECT oid::regprocedure::text FROM pg_proc WHERE pronamespace = current_schema()::regnamespace")]


def _sequence_states(cur: Any, sequences: list[str]) -> dict[str, tuple[int, bool]]:
    if not sequences:
        return {}
    sql = " UNION ALL ".join(f"SELECT '{name}', last_value, is_called FROM {name}" for name in sequences)
    return {name: (int(last), bool(called)) for name, last, called in _query(cur, sql)}


def _take_snapshot(cur: Any) -> _Snapshot:
    relations = _relations(cur)
    tables = tuple(name for name, kind in relations if kind in ("r", "p"))
    seed_rows = {}
    for table in tables:
        rows = _query(cur, f"SELECT * FROM {table}")
        if rows:
            seed_rows[table] = (tuple(d[0] for d in cur.description), rows)
    return _Snapshot(
        relations=frozenset(relations),
        functions=frozenset(_functions(cur)),
        fingerprint=_query(cur, _FINGERPRINT_SQL)[0][0],
        tables=tables,
        seed_rows=seed_rows,
        sequences=_sequence_states(cur, [name for name, kind in relations if kind == "S"]),
    )


class PreparedDatabases:
    """Clones of one prepared template database, handed out and taken back."""

    def __init__(self, info: PostgresInfo, template: str, snapshot: _Snapshot) -> None:
        self._info = info
        self._template = template
        self._snapshot = snapshot
        self._lock = threading.Lock()
        self._free: list[str] = []
        atexit.register(self._drop_all)

    @classmethod
    def create(cls, info: PostgresInfo) -> "PreparedDatabases":
        template = create_database(info)
        pool = run(lambda: make_database_pool(reactor, "psycopg2", info.database_args(template, cp_min=1, cp_max=1)))
        try:
            run(prepare_database(pool))
        finally:
            run(pool.close())
        conn = info.connect(template)
        try:
            with conn.cursor() as cur:
                snapshot = _take_snapshot(cur)
        finally:
            conn.close()
        return cls(info, template, snapshot)

    def acquire(self) -> str:
        with self._lock:
            if self._free:
                return self._free.pop()
        return create_database(self._info, template=self._template)

    def release(self, name: str) -> None:
        try:
            reusable = self._reset(name)
        except Exception:
            logger.warning("Could not reset test database %s; dropping it", name, exc_info=True)
            reusable = False
        if reusable:
            with self._lock:
                self._free.append(name)
        else:
            drop_database(self._info, name)

    def _reset(self, name: str) -> bool:
        snapshot = self._snapshot
        conn = self._info.connect(name)
        try:
            conn.autocommit = False
            with conn.cursor() as cur:
                cur.execute("SET LOCAL lock_timeout = '5s'")
                for relation, kind in _relations(cur):
                    if (relation, kind) not in snapshot.relations:
                        cur.execute(f"DROP {_DROPPABLE[kind]} IF EXISTS {relation} CASCADE")
                for function in set(_functions(cur)) - snapshot.functions:
                    cur.execute(f"DROP FUNCTION IF EXISTS {function} CASCADE")
                if _query(cur, _FINGERPRINT_SQL)[0][0] != snapshot.fingerprint:
                    logger.info("Test changed the schema of %s; not reusing it", name)
                    conn.rollback()
                    return False
                self._reset_rows(cur)
            conn.commit()
            return True
        finally:
            conn.close()

    def _reset_rows(self, cur: Any) -> None:
        snapshot = self._snapshot
        if snapshot.tables:
            probe = " UNION ALL ".join(
                f"SELECT '{table}' FROM (SELECT 1 FROM {table} LIMIT 1) AS t{i}" for i, table in enumerate(snapshot.tables)
            )
            dirty = {row[0] for row in _query(cur, probe)} | set(snapshot.seed_rows)
            if dirty:
                cur.execute(f"TRUNCATE {', '.join(t for t in snapshot.tables if t in dirty)} CASCADE")
        for table in snapshot.tables:
            if table in snapshot.seed_rows:
                columns, rows = snapshot.seed_rows[table]
                placeholders = ", ".join(["%s"] * len(columns))
                cur.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})", rows)
        current = _sequence_states(cur, list(snapshot.sequences))
        for sequence, state in snapshot.sequences.items():
            if current.get(sequence) != state:
                last_value, is_called = state
                cur.execute("SELECT setval(%s, %s, %s)", (sequence, last_value, is_called))

    def _drop_all(self) -> None:
        for name in [*self._free, self._template]:
            try:
                drop_database(self._info, name)
            except psycopg2.Error:
                logger.debug("Could not drop %s at exit (server already gone?)", name)


class EmptyDatabases:
    """Empty databases (UTF8, 'C' locale), handed out and taken back."""

    def __init__(self, info: PostgresInfo) -> None:
        self._info = info
        self._lock = threading.Lock()
        self._free: list[str] = []
        atexit.register(self._drop_all)

    def acquire(self) -> str:
        with self._lock:
            if self._free:
                return self._free.pop()
        return create_database(self._info)

    def release(self, name: str) -> None:
        try:
            conn = self._info.connect(name)
            try:
                with conn.cursor() as cur:
                    cur.execute("SET lock_timeout = '5s'")
                    other_schemas = _query(
                        cur,
                        "SELECT nspname FROM pg_namespace WHERE nspname NOT IN ('public', 'information_schema')"
                        " AND nspname NOT LIKE 'pg\\_%'",
                    )
                    for (schema,) in other_schemas:
                        cur.execute(f'DROP SCHEMA "{schema}" CASCADE')
                    cur.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
            finally:
                conn.close()
        except Exception:
            logger.warning("Could not reset test database %s; dropping it", name, exc_info=True)
            drop_database(self._info, name)
            return
        with self._lock:
            self._free.append(name)

    def _drop_all(self) -> None:
        for name in self._free:
            try:
                drop_database(self._info, name)
            except psycopg2.Error:
                logger.debug("Could not drop %s at exit (server already gone?)", name)
