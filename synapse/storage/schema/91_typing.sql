-- Typing notifications: one row per (room, user) that has ever typed there.
-- A table rather than writer memory because every process serves /sync:
-- readers re-query it for the rooms whose rows moved on the typing stream.
-- expires_at_ms is when the user stops typing (0 once stopped); stream_id
-- is the typing stream position of the row's latest change.
CREATE TABLE typing_state (
    room_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    expires_at_ms BIGINT NOT NULL,
    stream_id BIGINT NOT NULL,
    PRIMARY KEY (room_id, user_id)
);
CREATE INDEX typing_state_stream ON typing_state (stream_id);
