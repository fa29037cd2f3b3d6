-- The user directory (synapse/handlers/user_directory.py): who can be
-- found by POST /user_directory/search. Written only by the process that
-- runs the directory updater; every process reads it to serve searches.

-- One row per searchable user: local users (from their global profile) and
-- remote users who are joined to a room this server tracks (from their
-- member event). `search_text` is the display name and user id split into
-- casefolded words, each preceded and the whole followed by a space, so
-- "% word%" matches a word prefix on both engines.
CREATE TABLE user_directory (
    user_id TEXT NOT NULL PRIMARY KEY,
    display_name TEXT,
    avatar_url TEXT,
    search_text TEXT NOT NULL
);

-- The joined members of every room, as last seen by the updater.
CREATE TABLE user_directory_room_members (
    room_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    PRIMARY KEY (room_id, user_id)
);
CREATE INDEX user_directory_room_members_user ON user_directory_room_members (user_id);

-- Rooms whose members anyone may find: join rule `public` or history
-- visibility `world_readable` (the spec's minimum for the directory).
CREATE TABLE user_directory_public_rooms (
    room_id TEXT NOT NULL PRIMARY KEY
);

-- How far along the events stream the updater has read; no row yet means
-- the directory has never been populated.
CREATE TABLE user_directory_position (
    stream_name TEXT NOT NULL PRIMARY KEY,
    position BIGINT NOT NULL
);
