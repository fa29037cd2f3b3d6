"""Events: model (FrozenEvent, InternalMetadata), room_versions, hashing
(content and reference hashes, event ids), signing, redaction (pruning),
builder (new local events), validation (format and client rules, with
errcodes), serialize (client formats), auth (authorization rules),
power_levels and snapshot (EventContext: the state around a new event)."""
