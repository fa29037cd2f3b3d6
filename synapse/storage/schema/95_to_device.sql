-- Send-to-device messages waiting for a local device (the to_device stream):
-- one row per recipient device and send, written at the send's position and
-- deleted once the device has synced with a token at or past that position.
CREATE TABLE device_inbox (
    user_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    stream_id BIGINT NOT NULL,
    message_json TEXT NOT NULL,
    PRIMARY KEY (user_id, device_id, stream_id)
);
CREATE INDEX device_inbox_stream ON device_inbox (stream_id);

-- Transaction ids of sendToDevice requests per sending device, written with
-- the messages so that a retried request delivers nothing twice; rows older
-- than a day are pruned by the sender's later sends.
CREATE TABLE device_inbox_txns (
    user_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    txn_id TEXT NOT NULL,
    stream_id BIGINT NOT NULL,
    received_ts BIGINT NOT NULL,
    PRIMARY KEY (user_id, device_id, txn_id)
);
