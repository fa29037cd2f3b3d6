"""Replicated streams: the registry (one declaration per stream), tokens,
and one module per stream for what crosses processes.

- `registry.py`: `STREAMS` (client streams: positions in sync tokens,
  writers from `stream_writers`) and `INSTANCE_STREAMS` (every process
  writes its own rows: `caches`). Sync tokens, writer selection, position
  tracking and notifier wake-ups are derived from these tuples by loops.
- `tokens.py`: `StreamToken` (sync tokens) and `RoomStreamToken`.
- `events.py`: the events stream between processes: room -> writer
  sharding (`event_writer_for_room`), the writer facade
  `ShardedEventPersister`, and the reader hook `events_stream_reader`.
- `caches.py`: the `caches` stream, `CacheInvalidationStream`: named cache
  invalidations written by any process, applied by every other.
"""
