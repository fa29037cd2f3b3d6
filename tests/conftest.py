"""Fixtures shared by the whole suite.

- `engine_name`: "sqlite3" or "psycopg2"; fixtures built on it run each test
  once per engine (ids `sqlite` / `postgres`). SYNAPSE_TEST_DATABASES=sqlite3
  (comma-separated) narrows the set for a quick local run.
- `db_pool`: a `DatabasePool` on a fresh database with the schema applied.
- `test_database`: a fresh *empty* `TestDatabase` to open pools on yourself
  (migrations, restarts, several processes on one database).

Async code runs through `tests.support.twisted.run` (see tests/support/README.md).
"""

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from synapse.storage.database import DatabasePool
from tests.support.databases import ENGINES, TestDatabase, prepared_database
from tests.support.twisted import stop_reactor

_ENGINE_IDS = {"sqlite3": "sqlite", "psycopg2": "postgres"}


def _selected_engines() -> list[str]:
    wanted = os.environ.get("SYNAPSE_TEST_DATABASES")
    if not wanted:
        return list(ENGINES)
    names = [name.strip() for name in wanted.split(",") if name.strip()]
    unknown = set(names) - set(ENGINES)
    if unknown:
        raise pytest.UsageError(f"SYNAPSE_TEST_DATABASES: unknown engines {sorted(unknown)}; use {ENGINES}")
    return names


@pytest.fixture(params=_selected_engines(), ids=lambda name: _ENGINE_IDS[name])
def engine_name(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def db_pool(engine_name: str, tmp_path: Path) -> Iterator[DatabasePool]:
    db = prepared_database(engine_name, tmp_path)
    try:
        yield db.pools[0] if db.pools else db.open()
    finally:
        db.cleanup()


@pytest.fixture
def test_database(engine_name: str, tmp_path: Path) -> Iterator[TestDatabase]:
    db = TestDatabase.fresh(engine_name, tmp_path)
    try:
        yield db
    finally:
        db.cleanup()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    stop_reactor()
