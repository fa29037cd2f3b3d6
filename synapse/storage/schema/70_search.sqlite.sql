-- Full-text search over room events (POST /search), SQLite variant.
-- `event_search` holds one row per searchable event (its body, name or
-- topic) keyed by its stream position; `event_search_fts` is an FTS5 index
-- of the same text whose rowid is that position, ranked with bm25. Both are
-- written in the event's persist transaction and deleted on redaction.
CREATE TABLE event_search (
    stream_ordering BIGINT NOT NULL PRIMARY KEY,
    event_id TEXT NOT NULL UNIQUE,
    room_id TEXT NOT NULL,
    sender TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    origin_server_ts BIGINT NOT NULL
);
CREATE INDEX event_search_room_stream ON event_search (room_id, stream_ordering);
CREATE VIRTUAL TABLE event_search_fts USING fts5(value, tokenize = 'porter unicode61');
