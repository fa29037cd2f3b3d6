"""Reading events by id, with redactions applied, plus the room's DAG tips.

Events are immutable once written, so the raw rows are kept in an LRU
cache (`synapse.util.caches.LruCache` named "events"); redactions are looked
up on every read (one small query) so that a redaction persisted by another
process shows without cache invalidation. The events stream reader still
drops redacted events from the cache (`invalidate_events`), so redacted
content does not linger in memory.
"""

import json
from typing import Any, Collection, Iterable, Optional

from synapse.api.errors import NotFoundError
from synapse.events.model import FrozenEvent, InternalMetadata
from synapse.events.redaction import prune_event
from synapse.events.room_versions import KNOWN_ROOM_VERSIONS
from synapse.storage.database import DatabasePool
from synapse.util.caches import LruCache

_CACHE_SIZE = 10_000
# the chunk size for IN (...) lists, well under SQLite's parameter limit
_BATCH = 500


def event_from_row(row: Iterable[Any]) -> FrozenEvent:
    """A FrozenEvent from (json, internal_metadata, room_version, stream_ordering,
    instance_name, outlier, rejected_reason)."""
    json_text, meta_text, room_version_id, stream_ordering, instance_name, outlier, rejected = row
    room_version = KNOWN_ROOM_VERSIONS[room_version_id]
    meta = json.loads(meta_text) if meta_text else {}
    metadata = InternalMetadata(
        outlier=bool(outlier),
        txn_id=meta.get("txn_id"),
        device_id=meta.get("device_id"),
        token_id=meta.get("token_id"),
        stream_ordering=int(stream_ordering),
        instance_name=instance_name,
        rejected_reason=rejected,
    )
    return FrozenEvent(json.loads(json_text), room_version, metadata)


_EVENT_COLUMNS = (
    "j.json, j.internal_metadata, j.room_version, e.stream_ordering, e.instance_name, e.outlier, e.rejected_reason"
)


class EventsReadStore:
    def __init__(self, db: DatabasePool) -> None:
        self.db = db
        self._cache: LruCache[str, FrozenEvent] = LruCache("events", _CACHE_SIZE)

    # -- events by id -------------------------------------------------------
    async def get_event(self, event_id: str, allow_none: bool = False) -> Optional[FrozenEvent]:
        events = await self.get_events([event_id])
        event = events.get(event_id)
        if event is None and not allow_none:
            raise NotFoundError(f"Could not find event {event_id}")
        return event

    async def get_events(self, event_ids: Collection[str]) -> dict[str, FrozenEvent]:
        """The events we hold among `event_ids`, redacted where a redaction applies."""
        raw = await self.get_unredacted_events(event_ids)
        if not raw:
            return {}
        redactions = await self.db.runInteraction(
            "get_redactions", self._get_redactions_txn, list(raw), db_autocommit=True
        )
        if not redactions:
            return raw
        redaction_events = await self.get_unredacted_events({r for rs in redactions.values() for r in rs})
        result = dict(raw)
        for event_id, redaction_ids in redactions.items():
            valid = [
                redaction_events[r]
                for r in sorted(redaction_ids)
                if r in redaction_events and redaction_events[r].internal_metadata.rejected_reason is None
            ]
            if valid:
                result[event_id] = prune_event(raw[event_id], valid[0])
        return result

    async def get_events_as_list(self, event_ids: Iterable[str]) -> list[FrozenEvent]:
        ids = list(event_ids)
        events = await self.get_events(ids)
        return [events[e] for e in ids if e in events]

    async def get_unredacted_events(self, event_ids: Collection[str]) -> dict[str, FrozenEvent]:
        """Events as they were sent: for the auth rules and state resolution,
        which must see what the event said, not what clients are shown."""
        result: dict[str, FrozenEvent] = {}
        missing: list[str] = []
        for event_id in set(event_ids):
            cached = self._cache.get(event_id)
            if cached is not None:
                result[event_id] = cached
            else:
                missing.append(event_id)
        if missing:
            load_token = self._cache.begin_load()
            fetched = await self.db.runInteraction("get_events", self._fetch_events_txn, missing, db_autocommit=True)
            for event in fetched:
                self._cache.set(event.event_id, event, load_token)
                result[event.event_id] = event
        return result

    def invalidate_events(self, event_ids: Iterable[str]) -> None:
        """Drops events from the cache (e.g. once redacted)."""
        self._cache.invalidate(event_ids)

    def _fetch_events_txn(self, txn: Any, event_ids: list[str]) -> list[FrozenEvent]:
        events = []
        for start in range(0, len(event_ids), _BATCH):
            clause, args = self.db.engine.in_list_clause("e.event_id", event_ids[start : start + _BATCH])
            txn.execute(
                f"SELECT {_EVENT_COLUMNS} FROM events AS e JOIN event_json AS j USING (event_id) WHERE {clause}",
                args,
            )
            events.extend(event_from_row(row) for row in txn.fetchall())
        return events

    def _get_redactions_txn(self, txn: Any, event_ids: list[str]) -> dict[str, set[str]]:
        found: dict[str, set[str]] = {}
        for start in range(0, len(event_ids), _BATCH):
            clause, args = self.db.engine.in_list_clause("redacts", event_ids[start : start + _BATCH])
            txn.execute(f"SELECT redacts, event_id FROM redactions WHERE {clause}", args)
            for redacts, redaction_id in txn.fetchall():
                found.setdefault(redacts, set()).add(redaction_id)
        return found

    # -- the DAG ------------------------------------------------------------
    async def get_forward_extremities(self, room_id: str) -> list[str]:
        """The room's latest events, deepest first."""
        rows = await self.db.runInteraction(
            "get_forward_extremities",
            _select_all,
            "SELECT f.event_id FROM event_forward_extremities AS f JOIN events AS e USING (event_id)"
            " WHERE f.room_id = ? ORDER BY e.depth DESC, e.stream_ordering DESC",
            (room_id,),
            db_autocommit=True,
        )
        return [r[0] for r in rows]

    async def get_event_id_for_txn(
        self, room_id: str, user_id: str, device_id: Optional[str], txn_id: str
    ) -> Optional[str]:
        """The event a client already sent with this transaction id, if any."""
        rows = await self.db.runInteraction(
            "get_event_id_for_txn",
            _select_all,
            "SELECT event_id FROM event_txn_ids WHERE room_id = ? AND user_id = ? AND device_id = ? AND txn_id = ?",
            (room_id, user_id, device_id or "", txn_id),
            db_autocommit=True,
        )
        return rows[0][0] if rows else None

    def unredacted_view(self) -> "UnredactedEvents":
        """This store as state resolution's `StateResolutionStore` (events as sent)."""
        return UnredactedEvents(self)

    async def have_events(self, event_ids: Collection[str]) -> set[str]:
        return set((await self.get_unredacted_events(event_ids)).keys())


class UnredactedEvents:
    """`get_events` without redactions applied, for the auth rules and state resolution."""

    def __init__(self, store: EventsReadStore) -> None:
        self._store = store

    async def get_events(self, event_ids: Collection[str]) -> dict[str, FrozenEvent]:
        return await self._store.get_unredacted_events(event_ids)


def _select_all(txn: Any, sql: str, args: tuple) -> list[tuple]:
    txn.execute(sql, args)
    return list(txn.fetchall())
