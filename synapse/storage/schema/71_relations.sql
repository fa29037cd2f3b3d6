-- Event relations (m.relates_to with a rel_type): what /relations, /threads
-- and bundled aggregations read. One row per relating event, written in the
-- event's persist transaction and deleted when it is redacted.
CREATE TABLE event_relations (
    event_id TEXT NOT NULL PRIMARY KEY,
    relates_to_id TEXT NOT NULL,
    relation_type TEXT NOT NULL,
    aggregation_key TEXT,
    room_id TEXT NOT NULL,
    type TEXT NOT NULL,
    sender TEXT NOT NULL,
    stream_ordering BIGINT NOT NULL
);
CREATE INDEX event_relations_parent ON event_relations (relates_to_id, relation_type, stream_ordering);

-- One row per thread root: the thread's latest event, so /threads pages by
-- latest activity without scanning every thread reply.
CREATE TABLE threads (
    room_id TEXT NOT NULL,
    thread_id TEXT NOT NULL,
    latest_event_id TEXT NOT NULL,
    stream_ordering BIGINT NOT NULL,
    PRIMARY KEY (room_id, thread_id)
);
CREATE INDEX threads_room_latest ON threads (room_id, stream_ordering);
