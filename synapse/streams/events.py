"""The events stream across processes: which writer owns a room, the writer
facade, and what wakes waiters as events become readable.

Sharding: a room belongs to `writers[shard_for_room(room_id, len(writers))]`
where `writers` is `stream_writers.events` in configured order and the
shard is the first 8 bytes of SHA-256 of the UTF-8 room id, big-endian,
modulo the number of writers. Every process computes the same answer from
the same config (Python's `hash()` is salted per process and would not);
changing the list of writers moves rooms, which is why all processes must
restart together when event persisters are added or removed. A v12 create
event has no room_id field: its room id derives from its event id
(`FrozenEvent.room_id`), and the room is placed by that derived id.

`EventsStreamWaker` tells the notifier which rooms and users to wake when
the events token moves: those of the events the token just passed (see its
docstring for why not the rows of the writer whose position moved).

`ShardedEventPersister` is what `hs.event_persister` is when some event
writer is another process: it persists locally for rooms this process owns
and otherwise asks the owner over replication HTTP
(`ReplicationPersistEventEndpoint`), returning once this process can read
the written position (the replication client waits for it).
"""

import hashlib
import logging
from collections.abc import Sequence
from typing import Any, Optional

from twisted.internet import defer

from synapse.events.model import FrozenEvent
from synapse.events.snapshot import EventContext
from synapse.notifier import Notifier
from synapse.replication.endpoints.persist_event import (
    ReplicationPersistEventEndpoint,
    serialize_persist_request,
)
from synapse.replication.http.client import ReplicationClient
from synapse.replication.positions import StreamUpdates
from synapse.storage.database import DatabasePool
from synapse.storage.id_generators import StreamIdGenerator

logger = logging.getLogger(__name__)


def shard_for_room(room_id: str, shards: int) -> int:
    """The stable shard index of a room; see the module docstring."""
    if shards < 1:
        raise ValueError("need at least one shard")
    digest = hashlib.sha256(room_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % shards


def event_writer_for_room(room_id: str, writers: Sequence[str]) -> str:
    """The instance persisting events of `room_id`."""
    return writers[shard_for_room(room_id, len(writers))]


class ShardedEventPersister:
    """`persist_event` on the room's writer: here, or over replication."""

    def __init__(
        self,
        instance_name: str,
        writers: Sequence[str],
        local: Optional[Any],
        client: ReplicationClient,
        events_store: Any,
    ) -> None:
        self._instance_name = instance_name
        self._writers = list(writers)
        self._local = local
        self._client = client
        self._events_store = events_store

    def writer_for(self, room_id: str) -> str:
        return event_writer_for_room(room_id, self._writers)

    async def persist_event(self, event: FrozenEvent, context: EventContext) -> tuple[FrozenEvent, int]:
        """Like `EventPersister.persist_event`: the persisted event (the one
        persisted earlier, for a repeated transaction id) and its position."""
        writer = self.writer_for(event.room_id)
        if writer == self._instance_name:
            assert self._local is not None, "an events writer has a local persister"
            return await self._local.persist_event(event, context)
        body = await self._client.call(
            ReplicationPersistEventEndpoint,
            writer,
            serialize_persist_request(event, context),
            event_id=event.event_id,
        )
        stream_ordering = int(body["stream_ordering"])
        if body["event_id"] != event.event_id:
            # the writer had already persisted an event for this transaction id
            existing = await self._events_store.get_event(body["event_id"])
            return existing, stream_ordering
        context.state_group_before = body.get("state_group_before")
        context.state_group_after = body.get("state_group_after")
        event.internal_metadata.stream_ordering = stream_ordering
        event.internal_metadata.instance_name = writer
        return event, stream_ordering


class EventsStreamWaker:
    """Wakes the waiters of events as they become readable on this process.

    An event is readable once the token (the minimum over writers) has
    passed it, so waiters wake for the events the token just passed, whoever
    wrote them, rather than for the rows of the writer whose position moved:
    with several writers a writer's new rows may still be above the token
    (another writer lags), and what finally lets the token pass them is
    another position: often an idle writer's, which wrote nothing, or, on a
    writer, its own write finishing after another writer's arrived.

    `read_updates` is the events stream's reader hook (remote positions);
    `on_stream_update` is a notifier listener for local writes, needed only
    where this process writes events alongside other writers (with a single
    writer the writer's own notification is exact). Redacted events leave
    the event cache on the way.
    """

    def __init__(self, db: DatabasePool, events_store: Any, generator: StreamIdGenerator, notifier: Notifier) -> None:
        self._db = db
        self._events_store = events_store
        self._generator = generator
        self._notifier = notifier
        self._last_token = generator.get_current_token()

    async def read_updates(self, instance: str, from_pos: int, to_pos: int) -> StreamUpdates:
        return await self._passed()

    def on_stream_update(self, stream: str, position: int) -> None:
        if stream == "events" and self._generator.get_current_token() > self._last_token:
            defer.ensureDeferred(self._wake_passed())

    async def _wake_passed(self) -> None:
        try:
            updates = await self._passed()
        except Exception:
            logger.exception("Reading newly readable events failed; waking everyone")
            self._notifier.wake_all()
            return
        if updates.rooms or updates.users:
            self._notifier.on_new_event("events", self._last_token, updates.rooms, updates.users)

    async def _passed(self) -> StreamUpdates:
        """Rooms and member targets of the events the token passed since the last call."""
        token = self._generator.get_current_token()
        if token <= self._last_token:
            return StreamUpdates()
        after, self._last_token = self._last_token, token
        rows = await self._db.runInteraction("events_stream_updates", _updates_txn, after, token)
        rooms: set[str] = set()
        users: set[str] = set()
        redacted: list[str] = []
        for room_id, event_type, state_key, redacts in rows:
            rooms.add(room_id)
            if event_type == "m.room.member" and state_key:
                users.add(state_key)
            if redacts:
                redacted.append(redacts)
        if redacted:
            self._events_store.invalidate_events(redacted)
        return StreamUpdates(rooms=rooms, users=users)


def _updates_txn(txn: Any, after: int, upto: int) -> list[tuple]:
    txn.execute(
        "SELECT room_id, type, state_key, redacts FROM events WHERE stream_ordering > ? AND stream_ordering <= ?",
        (after, upto),
    )
    return list(txn.fetchall())
