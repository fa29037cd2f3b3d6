-- Full-text search over room events (POST /search), PostgreSQL variant.
-- One row per searchable event (its body, name or topic); `vector` is the
-- English tsvector of `value`, searched through the GIN index and ranked
-- with ts_rank. Rows are written in the event's persist transaction and
-- deleted when the event is redacted.
CREATE TABLE event_search (
    event_id TEXT NOT NULL PRIMARY KEY,
    room_id TEXT NOT NULL,
    sender TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    vector TSVECTOR NOT NULL,
    stream_ordering BIGINT NOT NULL,
    origin_server_ts BIGINT NOT NULL
);
CREATE INDEX event_search_vector ON event_search USING GIN (vector);
CREATE INDEX event_search_room_stream ON event_search (room_id, stream_ordering);
