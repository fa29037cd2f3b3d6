-- SQLite has no sequences: one row per stream stands in for PostgreSQL's
-- `<stream>_seq` (see synapse/storage/engines/sqlite.py).
CREATE TABLE stream_sequences (
    name TEXT NOT NULL PRIMARY KEY,
    last_value BIGINT NOT NULL
);
