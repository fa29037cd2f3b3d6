-- User-interactive authentication sessions (POST /register, DELETE /devices,
-- /account/password, /account/deactivate). Kept in the database rather than
-- in memory so that the steps of one session may reach different processes.

CREATE TABLE ui_auth_sessions (
    session_id TEXT NOT NULL PRIMARY KEY,
    creation_ts BIGINT NOT NULL,
    -- the request the session authorises; it may not change mid-session
    method TEXT NOT NULL,
    uri TEXT NOT NULL,
    -- the client's request body (without "auth" or a plaintext password)
    clientdict TEXT NOT NULL,
    -- values the server remembers between steps (e.g. a password hash)
    serverdict TEXT NOT NULL
);
CREATE INDEX ui_auth_sessions_creation ON ui_auth_sessions (creation_ts);

-- The stages a session has completed and what each one proved.
CREATE TABLE ui_auth_sessions_credentials (
    session_id TEXT NOT NULL,
    stage_type TEXT NOT NULL,
    result TEXT NOT NULL,
    PRIMARY KEY (session_id, stage_type)
);
