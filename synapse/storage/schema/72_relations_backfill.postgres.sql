-- Relations of the events persisted before 71_relations.sql was applied
-- (not redacted, not rejected, not outliers, not redactions), with the
-- persister's validity rules, then each thread's latest reply.
INSERT INTO event_relations (event_id, relates_to_id, relation_type, aggregation_key, room_id, type, sender,
    stream_ordering)
SELECT e.event_id, rel ->> 'event_id', rel ->> 'rel_type',
    CASE WHEN rel ->> 'rel_type' = 'm.annotation' AND jsonb_typeof(rel -> 'key') = 'string'
        THEN rel ->> 'key' END,
    e.room_id, e.type, e.sender, e.stream_ordering
FROM events AS e
JOIN event_json AS j ON j.event_id = e.event_id
CROSS JOIN LATERAL (SELECT (j.json::jsonb -> 'content') -> 'm.relates_to' AS rel) AS r
WHERE j.json LIKE '%"m.relates_to"%'
    AND e.type <> 'm.room.redaction' AND NOT e.outlier AND e.rejected_reason IS NULL
    AND NOT EXISTS (SELECT 1 FROM redactions AS x WHERE x.redacts = e.event_id)
    AND jsonb_typeof(rel) = 'object'
    AND jsonb_typeof(rel -> 'rel_type') = 'string' AND jsonb_typeof(rel -> 'event_id') = 'string'
    AND rel ->> 'rel_type' <> '' AND rel ->> 'event_id' <> '';

INSERT INTO threads (room_id, thread_id, latest_event_id, stream_ordering)
SELECT r.room_id, r.relates_to_id, r.event_id, r.stream_ordering FROM event_relations AS r
WHERE r.relation_type = 'm.thread' AND r.stream_ordering = (
    SELECT MAX(o.stream_ordering) FROM event_relations AS o
    WHERE o.relates_to_id = r.relates_to_id AND o.room_id = r.room_id AND o.relation_type = 'm.thread'
);
