-- Index the events persisted before 70_search.sql was applied (not redacted,
-- not rejected, not outliers; only string values, as the persister does).
INSERT INTO event_search (event_id, room_id, sender, key, value, vector, stream_ordering, origin_server_ts)
SELECT event_id, room_id, sender, key, value, to_tsvector('english', value), stream_ordering, origin_server_ts
FROM (
    SELECT e.event_id, e.room_id, e.sender, e.stream_ordering, e.origin_server_ts,
        CASE e.type WHEN 'm.room.message' THEN 'content.body' WHEN 'm.room.name' THEN 'content.name'
            ELSE 'content.topic' END AS key,
        (j.json::jsonb -> 'content') -> CASE e.type WHEN 'm.room.message' THEN 'body'
            WHEN 'm.room.name' THEN 'name' ELSE 'topic' END AS field
    FROM events AS e JOIN event_json AS j ON j.event_id = e.event_id
    WHERE e.type IN ('m.room.message', 'm.room.name', 'm.room.topic')
        AND NOT e.outlier AND e.rejected_reason IS NULL
        AND NOT EXISTS (SELECT 1 FROM redactions AS r WHERE r.redacts = e.event_id)
) AS candidates
CROSS JOIN LATERAL (SELECT field #>> '{}' AS value) AS v
WHERE jsonb_typeof(field) = 'string' AND btrim(value) <> '';
