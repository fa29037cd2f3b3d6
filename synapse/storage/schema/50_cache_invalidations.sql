-- The `caches` stream (synapse/streams/caches.py): every process appends
-- the keys of the named caches (synapse/util/caches.py) it invalidated;
-- the other processes read each instance's rows past the last position
-- they saw and drop those keys from their own caches. Ids come from the
-- shared sequence `cache_invalidations_seq`, so they are unique across
-- processes and increase per instance in commit order (each process writes
-- its rows one at a time). The main process prunes rows older than an hour.
CREATE TABLE cache_invalidations (
    stream_id BIGINT NOT NULL PRIMARY KEY,
    instance_name TEXT NOT NULL,
    cache_name TEXT NOT NULL,
    keys_json TEXT NOT NULL,
    invalidated_ts BIGINT NOT NULL
);
CREATE INDEX cache_invalidations_instance ON cache_invalidations (instance_name, stream_id);
CREATE INDEX cache_invalidations_ts ON cache_invalidations (invalidated_ts);
