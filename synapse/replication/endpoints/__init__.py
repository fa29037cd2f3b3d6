"""Concrete replication HTTP calls, one module per call.

- `health.py`: `GET /_synapse/replication/health` (a servlet, not a call):
  bus state and per-stream positions and lag.
- `persist_event.py`: `ReplicationPersistEventEndpoint` ("persist this event
  in a room you own"), served by every events stream writer, called by
  `synapse.streams.events.ShardedEventPersister`; plus the JSON form of an
  event and its `EventContext` on the wire.

Which process serves which call is decided in `synapse/server.py`
(`HomeServer.replication_endpoints`): a stream's writers serve its calls.
"""
