-- Account data: global (room_id '') and per room, one row per type; tags
-- are the room account data of type m.tag. stream_id is the position on the
-- account_data stream of the row's latest write.
CREATE TABLE account_data (
    user_id TEXT NOT NULL,
    room_id TEXT NOT NULL,
    account_data_type TEXT NOT NULL,
    stream_id BIGINT NOT NULL,
    content TEXT NOT NULL,
    PRIMARY KEY (user_id, room_id, account_data_type)
);
CREATE INDEX account_data_user_stream ON account_data (user_id, stream_id);
CREATE INDEX account_data_stream ON account_data (stream_id);
