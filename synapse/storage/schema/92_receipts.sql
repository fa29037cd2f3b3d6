-- Read receipts (m.read, m.read.private): the latest receipt per room,
-- type, user and thread (thread_id '' for an unthreaded receipt). data is
-- the receipt's JSON ({"ts": ...}); stream_id is the receipts stream
-- position of its latest write.
CREATE TABLE receipts (
    room_id TEXT NOT NULL,
    receipt_type TEXT NOT NULL,
    user_id TEXT NOT NULL,
    thread_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    data TEXT NOT NULL,
    stream_id BIGINT NOT NULL,
    PRIMARY KEY (room_id, receipt_type, user_id, thread_id)
);
CREATE INDEX receipts_room_stream ON receipts (room_id, stream_id);
CREATE INDEX receipts_stream ON receipts (stream_id);
