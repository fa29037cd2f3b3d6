-- Accounts, access tokens, devices, profiles and filters.

CREATE TABLE users (
    name TEXT NOT NULL PRIMARY KEY,
    password_hash TEXT,
    creation_ts BIGINT NOT NULL,
    admin BOOLEAN NOT NULL DEFAULT FALSE,
    is_guest BOOLEAN NOT NULL DEFAULT FALSE,
    deactivated BOOLEAN NOT NULL DEFAULT FALSE,
    user_type TEXT
);

CREATE TABLE access_tokens (
    id BIGINT NOT NULL PRIMARY KEY,
    user_id TEXT NOT NULL,
    device_id TEXT,
    token TEXT NOT NULL,
    valid_until_ms BIGINT,
    last_used BIGINT,
    CONSTRAINT access_tokens_token_key UNIQUE (token)
);
CREATE INDEX access_tokens_device ON access_tokens (user_id, device_id);

CREATE TABLE devices (
    user_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    display_name TEXT,
    last_seen BIGINT,
    ip TEXT,
    user_agent TEXT,
    hidden BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (user_id, device_id)
);

CREATE TABLE profiles (
    user_id TEXT NOT NULL PRIMARY KEY,
    displayname TEXT,
    avatar_url TEXT
);

CREATE TABLE user_filters (
    user_id TEXT NOT NULL,
    filter_id BIGINT NOT NULL,
    filter_json TEXT NOT NULL,
    PRIMARY KEY (user_id, filter_id)
);

-- Nonces handed out by GET /_synapse/admin/v1/register, valid for a minute.
CREATE TABLE registration_nonces (
    nonce TEXT NOT NULL PRIMARY KEY,
    created_ts BIGINT NOT NULL
);
