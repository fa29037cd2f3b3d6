"""The `caches` stream: invalidations of named caches, across processes.

A process that makes a cached value stale (deleting an access token)
calls `invalidate(cache_name, keys)`: the keys leave its own cache at once,
then one row goes into `cache_invalidations` and this process's new
position is published on the replication bus. Every other process, on that
position, reads the instance's rows past the last position it saw and drops
the keys from its own cache of that name (`CacheRegistry.invalidate`).

Every process is a writer of this stream and has its own position, so
unlike the events stream it is not part of client tokens and needs no list
of writers: positions are tracked per instance as they are heard. A process
writes its rows one at a time (allocation and insert in one transaction),
so its ids commit in increasing order and "everything up to my position"
holds without an in-flight set. On REPLICATE (a process (re)connecting)
every process re-publishes its position, so nothing is lost while Redis
was unreachable.

Rows are only hints for a short while: the main process prunes those older
than `PRUNE_AFTER_MS` (`prune`, run by HomeServer as a background job).
"""

import json
import logging
from collections.abc import Hashable, Iterable
from typing import Any

from synapse.replication.bus import ReplicationBus
from synapse.storage.database import DatabasePool
from synapse.streams.registry import CACHES
from synapse.util.caches import CacheRegistry
from synapse.util.clock import Clock
from synapse.util.linearizer import KeyedLinearizer

logger = logging.getLogger(__name__)

SEQUENCE = "cache_invalidations_seq"
PRUNE_AFTER_MS = 60 * 60 * 1000
PRUNE_INTERVAL_S = 5 * 60.0


class CacheInvalidationStream:
    """This process's writer and reader of the `caches` stream."""

    def __init__(
        self, db: DatabasePool, instance_name: str, registry: CacheRegistry, bus: ReplicationBus, clock: Clock
    ) -> None:
        self._db = db
        self.instance_name = instance_name
        self._registry = registry
        self._bus = bus
        self._clock = clock
        self._write_lock = KeyedLinearizer()
        # instance -> the last of its positions whose rows were applied here
        self._seen: dict[str, int] = {}
        self._position = 0

    async def start(self) -> None:
        """Loads where every instance's rows end (older rows concern caches
        this process never filled) and subscribes to the bus."""
        self._seen = await self._db.runInteraction("caches_stream_start", self._start_txn)
        self._position = self._seen.get(self.instance_name, 0)
        self._bus.subscribe(CACHES.name, self._on_position)
        self._bus.on_replicate(self._republish)

    def _start_txn(self, txn: Any) -> dict[str, int]:
        txn.database_engine.ensure_sequence_txn(txn, SEQUENCE, 0)
        txn.execute("SELECT instance_name, MAX(stream_id) FROM cache_invalidations GROUP BY instance_name")
        return {name: int(position) for name, position in txn.fetchall()}

    # -- writing -------------------------------------------------------------

    async def invalidate(self, cache_name: str, keys: Iterable[Hashable]) -> int:
        """Invalidates `keys` of `cache_name` here now and on every process
        once they read the row; returns the row's stream id."""
        keys = list(keys)
        self._registry.invalidate(cache_name, keys)
        keys_json = json.dumps(keys)
        async with self._write_lock.queue(None):
            stream_id = await self._db.runInteraction(
                "caches_stream_write", self._write_txn, cache_name, keys_json, self._clock.time_msec()
            )
            self._position = stream_id
        self._bus.publish(CACHES.name, stream_id)
        return stream_id

    def _write_txn(self, txn: Any, cache_name: str, keys_json: str, now_ms: int) -> int:
        stream_id = txn.database_engine.allocate_from_sequence_txn(txn, SEQUENCE, 1)[0]
        txn.execute(
            "INSERT INTO cache_invalidations (stream_id, instance_name, cache_name, keys_json, invalidated_ts)"
            " VALUES (?, ?, ?, ?, ?)",
            (stream_id, self.instance_name, cache_name, keys_json, now_ms),
        )
        return stream_id

    def _republish(self) -> None:
        if self._position:
            self._bus.publish(CACHES.name, self._position)

    # -- reading -------------------------------------------------------------

    async def _on_position(self, instance: str, position: int) -> None:
        if instance == self.instance_name:
            return  # invalidated locally before the row was written
        last = self._seen.get(instance, 0)
        if position <= last:
            return
        rows = await self._db.runInteraction("caches_stream_read", _read_rows_txn, instance, last, position)
        for cache_name, keys_json in rows:
            try:
                keys = json.loads(keys_json)
            except ValueError:
                logger.error("Bad keys in cache_invalidations for %s from %s: %r", cache_name, instance, keys_json)
                continue
            self._registry.invalidate(cache_name, [_hashable(k) for k in keys])
        self._seen[instance] = position

    def positions(self) -> dict[str, int]:
        """Instance -> the last of its positions applied here (ours: written)."""
        return {**self._seen, self.instance_name: self._position}

    # -- pruning ---------------------------------------------------------------

    async def prune(self, older_than_ms: int = PRUNE_AFTER_MS) -> int:
        """Deletes rows older than `older_than_ms`; returns how many."""
        cutoff = self._clock.time_msec() - older_than_ms

        def txn_fn(txn: Any) -> int:
            txn.execute("DELETE FROM cache_invalidations WHERE invalidated_ts < ?", (cutoff,))
            return max(txn.rowcount, 0)

        deleted = await self._db.runInteraction("caches_stream_prune", txn_fn)
        if deleted:
            logger.info("Pruned %d old cache invalidations", deleted)
        return deleted


def _read_rows_txn(txn: Any, instance: str, after: int, upto: int) -> list[tuple[str, str]]:
    txn.execute(
        "SELECT cache_name, keys_json FROM cache_invalidations"
        " WHERE instance_name = ? AND stream_id > ? AND stream_id <= ? ORDER BY stream_id",
        (instance, after, upto),
    )
    return [(row[0], row[1]) for row in txn.fetchall()]


def _hashable(key: Any) -> Hashable:
    """JSON gives lists where a key was a tuple."""
    return tuple(_hashable(k) for k in key) if isinstance(key, list) else key
