-- Ids of e2e_key_changes rows (see 60_e2ee_keys.sql); SQLite's stand-in for a sequence.
INSERT INTO stream_sequences (name, last_value) VALUES ('e2e_key_changes_seq', 0);
