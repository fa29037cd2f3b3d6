-- Push rules: one row per user who changed anything, holding the user's
-- own rules per kind (in priority order) and their changes to server-default
-- rules (enabled, actions) as one JSON document, so that every edit is one
-- read-modify-write on the push_rules writer. stream_id is the push_rules
-- stream position of the latest change (what /sync and readers look for).
CREATE TABLE push_rules (
    user_id TEXT NOT NULL PRIMARY KEY,
    rules TEXT NOT NULL,
    stream_id BIGINT NOT NULL
);
CREATE INDEX push_rules_stream ON push_rules (stream_id);
