-- Per-writer positions of each stream (see synapse/storage/id_generators.py).
-- `position`: every id this writer allocated up to it is persisted (or was
-- abandoned), so a restarted process resumes without skipping a write.
CREATE TABLE stream_positions (
    stream_name TEXT NOT NULL,
    instance_name TEXT NOT NULL,
    position BIGINT NOT NULL,
    PRIMARY KEY (stream_name, instance_name)
);
