"""Schema migrations: bring a database up to the schema this code expects.

The schema is the ordered list of files in `synapse/storage/schema/`:

    NN_name.sql            runs on every engine
    NN_name.postgres.sql   PostgreSQL only (replaces NN_name.sql there, if both exist)
    NN_name.sqlite.sql     SQLite only (likewise)

Files apply in numeric order of NN (then by name), each exactly once, each
in its own transaction together with its row in `applied_schema_files`, so
a crash mid-upgrade leaves the database at a clean file boundary. A file is
known by its engine-neutral name ("20_events.sql") whatever variant ran.
Adding a file with a lower number than ones already applied is allowed: it
runs on the next start like any other pending file.

Only the main process upgrades. Workers call `prepare_database(db,
allow_upgrade=False)` and get `PrepareDatabaseError` on an empty or outdated
database instead of racing the main process to change the schema.
"""

import logging
import re
import time
from pathlib import Path

import attrs

from synapse.storage.database import DatabasePool, LoggingTransaction
from synapse.storage.engines import BaseDatabaseEngine

logger = logging.getLogger(__name__)

SCHEMA_DIR = Path(__file__).parent / "schema"
#: the runner's own bookkeeping table: one row per applied schema file
APPLIED_TABLE = "applied_schema_files"

_FILE_RE = re.compile(r"^(?P<number>\d+)_(?P<stem>[A-Za-z0-9_]+?)(?:\.(?P<engine>postgres|sqlite))?\.sql$")


class PrepareDatabaseError(Exception):
    """The database cannot be used as it is; the message says what to do."""


@attrs.frozen
class SchemaFile:
    """One migration as it applies to one engine."""

    #: engine-neutral name recorded once applied, e.g. "20_events.sql"
    name: str
    #: the file that runs on this engine (possibly a .postgres/.sqlite variant)
    path: Path
    number: int


def find_schema_files(engine: BaseDatabaseEngine, schema_dir: Path = SCHEMA_DIR) -> list[SchemaFile]:
    """The migrations that apply to `engine`, in the order they must run."""
    engine_suffix = "postgres" if engine.is_postgres else "sqlite"
    generic: dict[str, Path] = {}
    specific: dict[str, Path] = {}
    numbers: dict[str, int] = {}
    for path in schema_dir.iterdir():
        if path.suffix != ".sql":
            continue
        match = _FILE_RE.match(path.name)
        if match is None:
            raise PrepareDatabaseError(
                f"Schema file {path.name!r} is not named NN_name.sql, NN_name.postgres.sql or NN_name.sqlite.sql"
            )
        name = f"{match['number']}_{match['stem']}.sql"
        numbers[name] = int(match["number"])
        if match["engine"] is None:
            generic[name] = path
        elif match["engine"] == engine_suffix:
            specific[name] = path
    chosen = {**generic, **specific}
    return sorted(
        (SchemaFile(name=name, path=path, number=numbers[name]) for name, path in chosen.items()),
        key=lambda f: (f.number, f.name),
    )


async def prepare_database(db: DatabasePool, *, allow_upgrade: bool = True, schema_dir: Path = SCHEMA_DIR) -> None:
    """Apply pending schema files (or, with `allow_upgrade=False`, check that
    none are pending). `schema_dir` exists for tests."""
    files = find_schema_files(db.engine, schema_dir)
    applied = await db.runInteraction("prepare_database_read", _read_applied_txn)
    pending = [f for f in files if f.name not in (applied or ())]
    unknown = sorted((applied or set()) - {f.name for f in files})
    if unknown:
        logger.warning(
            "The database has schema files applied that this code does not know (%s):"
            " it was used by a newer or different version",
            ", ".join(unknown),
        )

    if not allow_upgrade:
        if not applied:
            raise PrepareDatabaseError(
                "The database is empty: start the main process first so it creates the schema"
                " (this process does not upgrade the database)"
            )
        if pending:
            raise PrepareDatabaseError(
                f"The database schema is out of date ({len(pending)} schema files not applied:"
                f" {', '.join(f.name for f in pending)}): start the main process first so it upgrades it"
            )
        return

    if not pending:
        logger.info("Database schema is up to date (%d schema files)", len(files))
        return
    for index, schema_file in enumerate(pending, start=1):
        logger.info("Applying schema %s (%d/%d)", schema_file.name, index, len(pending))
        await db.runInteraction("prepare_database_apply", _apply_file_txn, schema_file)
    logger.info("Database schema upgraded: %d schema files applied", len(pending))


def _read_applied_txn(txn: LoggingTransaction) -> set[str] | None:
    """Names of applied schema files; None if the database was never prepared."""
    if not txn.database_engine.table_exists_txn(txn, APPLIED_TABLE):
        return None
    txn.execute(f"SELECT name FROM {APPLIED_TABLE}")
    return {row[0] for row in txn}


def _apply_file_txn(txn: LoggingTransaction, schema_file: SchemaFile) -> None:
    engine = txn.database_engine
    # Another process may be upgrading too: wait for it, then re-check.
    engine.lock_schema_txn(txn)
    txn.execute(
        f"CREATE TABLE IF NOT EXISTS {APPLIED_TABLE} (name TEXT NOT NULL PRIMARY KEY, applied_ts BIGINT NOT NULL)"
    )
    txn.execute(f"SELECT 1 FROM {APPLIED_TABLE} WHERE name = ?", (schema_file.name,))
    if txn.fetchone() is not None:
        logger.info("Schema %s was applied meanwhile by another process", schema_file.name)
        return
    try:
        engine.execute_script(txn.txn, schema_file.path.read_text(encoding="utf-8"))
    except Exception as exc:
        if engine.is_retryable(exc):
            raise
        raise PrepareDatabaseError(f"Applying schema file {schema_file.path.name} failed: {exc}") from exc
    txn.execute(
        f"INSERT INTO {APPLIED_TABLE} (name, applied_ts) VALUES (?, ?)",
        (schema_file.name, int(time.time() * 1000)),
    )
