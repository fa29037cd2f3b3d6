-- Custom profile fields (spec v1.16, MSC4133): any namespaced key beyond
-- displayname and avatar_url (which stay in `profiles`), e.g. m.tz.
CREATE TABLE profile_fields (
    user_id TEXT NOT NULL,
    field_name TEXT NOT NULL,
    -- the field's JSON value
    value TEXT NOT NULL,
    PRIMARY KEY (user_id, field_name)
);
