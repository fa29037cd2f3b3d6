-- Ids of e2e_key_changes rows (see 60_e2ee_keys.sql).
CREATE SEQUENCE e2e_key_changes_seq;
