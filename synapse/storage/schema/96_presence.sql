-- Presence: one row per user whose presence was ever set. Written only by
-- the presence stream's writer; every process reads it for /sync and GET.
-- last_active_ts is 0 when the user was never active; stream_id is the
-- presence stream position of the row's latest change that clients are
-- told of (a bare last_active_ts refresh keeps it).
CREATE TABLE presence_state (
    user_id TEXT NOT NULL PRIMARY KEY,
    state TEXT NOT NULL,
    status_msg TEXT,
    last_active_ts BIGINT NOT NULL,
    currently_active SMALLINT NOT NULL,
    stream_id BIGINT NOT NULL
);
CREATE INDEX presence_state_stream ON presence_state (stream_id);
