-- End-to-end encryption keys: device identity keys, one-time and fallback
-- keys, cross-signing keys and the signatures users upload on them, and a log
-- of key changes for GET /keys/changes (synapse/storage/stores/e2e_keys.py).

-- The identity keys a device uploaded (its DeviceKeys object, as JSON).
CREATE TABLE e2e_device_keys_json (
    user_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    ts_added_ms BIGINT NOT NULL,
    key_json TEXT NOT NULL,
    PRIMARY KEY (user_id, device_id)
);

-- Unclaimed one-time keys; a claim deletes the row it hands out.
CREATE TABLE e2e_one_time_keys_json (
    user_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    algorithm TEXT NOT NULL,
    key_id TEXT NOT NULL,
    ts_added_ms BIGINT NOT NULL,
    key_json TEXT NOT NULL,
    PRIMARY KEY (user_id, device_id, algorithm, key_id)
);
CREATE INDEX e2e_one_time_keys_claim ON e2e_one_time_keys_json (user_id, device_id, algorithm, ts_added_ms);

-- At most one fallback key per device and algorithm; `used` once claimed.
CREATE TABLE e2e_fallback_keys_json (
    user_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    algorithm TEXT NOT NULL,
    key_id TEXT NOT NULL,
    key_json TEXT NOT NULL,
    used BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (user_id, device_id, algorithm)
);

-- The current cross-signing key of each type (master, self_signing,
-- user_signing) per user, as uploaded (with the uploader's signatures).
CREATE TABLE e2e_cross_signing_keys (
    user_id TEXT NOT NULL,
    keytype TEXT NOT NULL,
    key_json TEXT NOT NULL,
    ts_added_ms BIGINT NOT NULL,
    PRIMARY KEY (user_id, keytype)
);

-- Signatures uploaded with POST /keys/signatures/upload: `user_id` signed
-- `target_user_id`'s key `target_device_id` (a device id, or a master key's
-- public key) with its key `key_id` ("ed25519:<pub>").
CREATE TABLE e2e_cross_signing_signatures (
    user_id TEXT NOT NULL,
    key_id TEXT NOT NULL,
    target_user_id TEXT NOT NULL,
    target_device_id TEXT NOT NULL,
    signature TEXT NOT NULL,
    PRIMARY KEY (target_user_id, target_device_id, user_id, key_id)
);

-- One row per change of a user's keys (device keys uploaded or removed,
-- cross-signing keys or signatures uploaded). `stream_id` comes from the
-- e2e_key_changes_seq sequence; `events_position` is the events stream
-- position when the change was made, which is what sync tokens carry until
-- a device_lists stream exists.
CREATE TABLE e2e_key_changes (
    stream_id BIGINT NOT NULL PRIMARY KEY,
    user_id TEXT NOT NULL,
    events_position BIGINT NOT NULL
);
CREATE INDEX e2e_key_changes_events ON e2e_key_changes (events_position);
