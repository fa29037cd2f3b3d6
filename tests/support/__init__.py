"""Test helpers shared by all test packages (see README.md here):

- `twisted.py`         `run(...)`: drive async code from plain tests on a real reactor
- `postgres.py`        `ensure_postgres()`: a throwaway PostgreSQL cluster, per-test databases
- `databases.py`       `TestDatabase`, `prepared_database`: fresh databases of either engine
- `postgres_reuse.py`  resetting PostgreSQL test databases so they can be reused quickly
"""
