-- The device_lists stream (synapse/streams/device_lists.py): one row per
-- user whose device list or keys changed at a position (a device added,
-- renamed or deleted, device keys uploaded, cross-signing keys or
-- signatures uploaded). It replaces the e2e_key_changes log of
-- 60_e2ee_keys.sql, whose rows were stamped with events positions and are
-- no longer written or read.
CREATE TABLE device_lists_changes (
    stream_id BIGINT NOT NULL,
    user_id TEXT NOT NULL,
    PRIMARY KEY (stream_id, user_id)
);
CREATE INDEX device_lists_changes_user ON device_lists_changes (user_id, stream_id);
