"""Replication: how processes of one server learn about each other's writes.

A writer commits, its id generator's position moves, and the position (not
the rows: readers re-query) is published on the bus; other processes
advance their id generators and wake their notifier. Calls that need an
answer (e.g. "persist this event") go over HTTP to the writer, and the
caller waits until it has seen the positions the call wrote.

- `bus.py`: `ReplicationBus` (publish a position, `subscribe(stream, cb)`,
  `on_replicate(cb)`, `state()`), and `InProcessBus` for the monolith.
- `redis.py`: `RedisReplicationBus`, the bus between processes over Redis
  pub/sub (heartbeat, reconnect with backoff, REPLICATE on connect).
- `commands.py`: the bus wire format (POSITION, REPLICATE, PING).
- `positions.py`: `ReplicationPositions`: publishes this process's writer
  positions, applies others' to the id generators, runs each stream's
  "what changed" hook to wake the notifier, `wait_for_position`.
- `metrics.py`: Prometheus collector for bus health, positions and lag.
- `http/`: replication HTTP calls: `ReplicationEndpoint` (serving side,
  secret check, idempotent replay) and `ReplicationClient` (calling side).
"""
