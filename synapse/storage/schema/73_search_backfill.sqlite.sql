-- Index the events persisted before 70_search.sql was applied (not redacted,
-- not rejected, not outliers; only string values, as the persister does).
INSERT INTO event_search (stream_ordering, event_id, room_id, sender, key, value, origin_server_ts)
SELECT stream_ordering, event_id, room_id, sender, key, json_extract(json, path), origin_server_ts
FROM (
    SELECT e.stream_ordering, e.event_id, e.room_id, e.sender, e.origin_server_ts, j.json,
        CASE e.type WHEN 'm.room.message' THEN 'content.body' WHEN 'm.room.name' THEN 'content.name'
            ELSE 'content.topic' END AS key,
        CASE e.type WHEN 'm.room.message' THEN '$.content.body' WHEN 'm.room.name' THEN '$.content.name'
            ELSE '$.content.topic' END AS path
    FROM events AS e JOIN event_json AS j ON j.event_id = e.event_id
    WHERE e.type IN ('m.room.message', 'm.room.name', 'm.room.topic')
        AND NOT e.outlier AND e.rejected_reason IS NULL
        AND NOT EXISTS (SELECT 1 FROM redactions AS r WHERE r.redacts = e.event_id)
)
WHERE json_type(json, path) = 'text' AND trim(json_extract(json, path)) <> '';
INSERT INTO event_search_fts (rowid, value) SELECT stream_ordering, value FROM event_search;
