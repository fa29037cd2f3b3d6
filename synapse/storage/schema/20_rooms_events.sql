-- Rooms, events, the room DAG, state and current state.
-- Portable SQL for SQLite and PostgreSQL; engine-specific bits live in
-- NN_name.postgres.sql / NN_name.sqlite.sql.

CREATE TABLE rooms (
    room_id TEXT PRIMARY KEY,
    room_version TEXT NOT NULL,
    creator TEXT,
    is_public BOOLEAN NOT NULL DEFAULT FALSE,
    created_ts BIGINT NOT NULL
);

-- One row per event this server holds. stream_ordering is the position on
-- the events stream (allocated by the room's event persister); depth is the
-- topological ordering used by /messages.
CREATE TABLE events (
    stream_ordering BIGINT NOT NULL PRIMARY KEY,
    event_id TEXT NOT NULL,
    room_id TEXT NOT NULL,
    type TEXT NOT NULL,
    state_key TEXT,
    sender TEXT NOT NULL,
    depth BIGINT NOT NULL,
    origin_server_ts BIGINT NOT NULL,
    received_ts BIGINT NOT NULL,
    instance_name TEXT NOT NULL,
    outlier BOOLEAN NOT NULL DEFAULT FALSE,
    rejected_reason TEXT,
    redacts TEXT,
    CONSTRAINT events_event_id_key UNIQUE (event_id)
);
CREATE INDEX events_room_stream ON events (room_id, stream_ordering);
CREATE INDEX events_room_topo ON events (room_id, depth, stream_ordering);

-- The signed PDU and this server's metadata about it, as JSON text.
CREATE TABLE event_json (
    event_id TEXT NOT NULL PRIMARY KEY,
    room_id TEXT NOT NULL,
    room_version TEXT NOT NULL,
    json TEXT NOT NULL,
    internal_metadata TEXT NOT NULL
);

-- The DAG: prev_events and auth_events edges.
CREATE TABLE event_edges (
    event_id TEXT NOT NULL,
    prev_event_id TEXT NOT NULL,
    PRIMARY KEY (event_id, prev_event_id)
);
CREATE INDEX event_edges_prev ON event_edges (prev_event_id);

CREATE TABLE event_auth (
    event_id TEXT NOT NULL,
    auth_id TEXT NOT NULL,
    room_id TEXT NOT NULL,
    PRIMARY KEY (event_id, auth_id)
);

-- The room's latest events: the prev_events of the next event sent.
CREATE TABLE event_forward_extremities (
    room_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    PRIMARY KEY (room_id, event_id)
);

-- State snapshots stored as deltas: a group's full state is its rows plus
-- those of its prev_group chain (rows of a later group win). A group with no
-- prev_group holds the full state.
CREATE TABLE state_groups (
    id BIGINT NOT NULL PRIMARY KEY,
    room_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    prev_group BIGINT,
    chain_length INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE state_groups_state (
    state_group BIGINT NOT NULL,
    room_id TEXT NOT NULL,
    type TEXT NOT NULL,
    state_key TEXT NOT NULL,
    event_id TEXT NOT NULL
);
CREATE INDEX state_groups_state_group ON state_groups_state (state_group, type, state_key);

-- The state after each event (for a state event, it includes itself) and
-- the state before it (what its auth and the sync timeline start read).
CREATE TABLE event_to_state_groups (
    event_id TEXT NOT NULL PRIMARY KEY,
    state_group BIGINT NOT NULL,
    state_group_before BIGINT NOT NULL
);

-- The room's state at its forward extremities, resolved.
CREATE TABLE current_state_events (
    room_id TEXT NOT NULL,
    type TEXT NOT NULL,
    state_key TEXT NOT NULL,
    event_id TEXT NOT NULL,
    membership TEXT,
    PRIMARY KEY (room_id, type, state_key)
);
CREATE INDEX current_state_events_member ON current_state_events (state_key, type, membership);

-- Every membership event, for history (/members?at=, sync leave sections).
CREATE TABLE room_memberships (
    event_id TEXT NOT NULL PRIMARY KEY,
    user_id TEXT NOT NULL,
    sender TEXT NOT NULL,
    room_id TEXT NOT NULL,
    membership TEXT NOT NULL,
    display_name TEXT,
    avatar_url TEXT,
    stream_ordering BIGINT NOT NULL,
    forgotten INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX room_memberships_user_room ON room_memberships (user_id, room_id);
CREATE INDEX room_memberships_room ON room_memberships (room_id);

CREATE TABLE redactions (
    event_id TEXT NOT NULL PRIMARY KEY,
    redacts TEXT NOT NULL,
    received_ts BIGINT NOT NULL
);
CREATE INDEX redactions_redacts ON redactions (redacts);

-- Idempotency of PUT .../send/{type}/{txnId}: per user, device and room.
CREATE TABLE event_txn_ids (
    room_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    txn_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    inserted_ts BIGINT NOT NULL,
    PRIMARY KEY (room_id, user_id, device_id, txn_id)
);

CREATE TABLE room_aliases (
    room_alias TEXT NOT NULL PRIMARY KEY,
    room_id TEXT NOT NULL,
    creator TEXT
);
CREATE INDEX room_aliases_room ON room_aliases (room_id);
