-- The push actions of an event for each local member it notifies or
-- highlights, written by the events writer in the event's own persist
-- transaction (evaluated where the event was created). thread_id is the
-- thread root of an m.thread relation, else 'main'. Unread counts are the
-- rows after the user's read receipts; GET /notifications pages them.
CREATE TABLE event_push_actions (
    event_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    room_id TEXT NOT NULL,
    thread_id TEXT NOT NULL,
    stream_ordering BIGINT NOT NULL,
    actions TEXT NOT NULL,
    notif SMALLINT NOT NULL,
    highlight SMALLINT NOT NULL,
    received_ts BIGINT NOT NULL,
    PRIMARY KEY (event_id, user_id)
);
CREATE INDEX event_push_actions_user_room ON event_push_actions (user_id, room_id, stream_ordering);
CREATE INDEX event_push_actions_user ON event_push_actions (user_id, stream_ordering);

-- The latest event each user sent per room and thread: sending an event
-- marks the notifications before it in its thread as read (spec, "Marking
-- notifications as read"), like a threaded receipt. Written with the event.
CREATE TABLE event_push_last_sent (
    room_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    thread_id TEXT NOT NULL,
    stream_ordering BIGINT NOT NULL,
    PRIMARY KEY (room_id, user_id, thread_id)
);
