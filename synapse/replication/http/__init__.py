"""Replication over HTTP: request/response calls between processes.

- `endpoint.py`: `ReplicationEndpoint`, the base class of one call (its NAME,
  METHOD and PATH_ARGS; the serving side's `handle`), mounted under
  `/_synapse/replication/<NAME>/<args...>/<txn_id>` on a replication
  listener; checks `worker_replication_secret`; replays the answer of a
  retried call from its transaction id instead of running it twice.
- `client.py`: `ReplicationClient`, which calls an instance by name through
  `instance_map` (TCP or UNIX socket), retries connection failures with the
  same transaction id, and, before returning, waits until this process has
  seen the stream positions the call wrote (read your own writes).
"""
