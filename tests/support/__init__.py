"""Test helpers shared by all test packages (see README.md here):

- `twisted.py`   `run(...)`: drive async code from plain tests on a real reactor
- `postgres.py`  `ensure_postgres()`: a throwaway PostgreSQL cluster, per-test databases
- `databases.py` `TestDatabase`: a fresh database of either engine, opened as pools
"""
