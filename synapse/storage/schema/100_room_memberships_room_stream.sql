-- Membership events of given rooms in a range of events positions: what
-- the device_lists stream reads on every incremental /sync
-- (synapse/storage/stores/device_lists.py) without scanning every
-- membership a large room ever had.
CREATE INDEX room_memberships_room_stream ON room_memberships (room_id, stream_ordering);
