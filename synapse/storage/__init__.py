"""Storage: database.py (pool, transactions, simple_* helpers), engines/
(SQLite and PostgreSQL differences), prepare.py (schema migrations from
schema/NN_name[.engine].sql), id_generators.py (stream ids and per-writer
positions), databases.py (the per-area stores composed), stores/ (read
stores by area), persist_events.py (the events stream's local writer)."""
