"""The events stream's local writer: the only code that writes events.

`EventPersister.persist_event` writes an event, its DAG edges, its state
groups, the room's new forward extremities and current state, membership
and redaction bookkeeping, its transaction id, its push actions (computed
by the event's creator) and the stream position in
ONE database transaction: a failure leaves nothing behind. Only after the
commit does the events stream position advance and the notifier wake
waiters, so a reader never sees a position whose event it cannot read.

Per room, persists run one at a time (`KeyedLinearizer`), so the
extremities and current state read before the transaction are still
accurate when it commits; rooms are sharded over event persisters, so no
other process writes the same room.

A transaction id (PUT /send/.../{txnId}) persists one event however many
processes race to send it: event creators on two workers may both build an
event for it, but the room's writer persists only the first and answers
the second with that first event, never with an error.
"""

import json
import logging
from typing import Any, Optional

from canonicaljson import encode_canonical_json
from prometheus_client import Counter

from synapse.events.model import FrozenEvent
from synapse.events.snapshot import EventContext
from synapse.state import StateMap, resolve_events
from synapse.storage.stores.event_push_actions import store_push_actions_txn
from synapse.storage.stores.relations import store_relation_txn
from synapse.storage.stores.search import index_event_txn
from synapse.storage.stores.state import get_state_for_group_txn
from synapse.util.linearizer import KeyedLinearizer

logger = logging.getLogger(__name__)

events_persisted = Counter("synapse_events_persisted", "Events persisted by this process", ["category"])

# a state group stores a delta on its prev_group until the chain is this long
MAX_STATE_GROUP_CHAIN = 50
STATE_GROUP_SEQUENCE = "state_group_id_seq"


def _category(event: FrozenEvent) -> str:
    if event.type == "m.room.member":
        return "member"
    if event.type == "m.room.redaction":
        return "redaction"
    return "state" if event.is_state() else "message"


class EventPersister:
    def __init__(self, hs: Any) -> None:
        self._hs = hs
        self._lock = KeyedLinearizer()
        self._sequence_ready = False

    async def persist_event(self, event: FrozenEvent, context: EventContext) -> tuple[FrozenEvent, int]:
        """Writes the event atomically; returns it with its stream position set."""
        room_id = event.room_id
        async with self._lock.queue(room_id):
            stores = self._hs.stores
            earlier = await self._event_for_txn_id(event)
            if earlier is not None:
                return earlier, earlier.internal_metadata.stream_ordering  # type: ignore[return-value]
            old_extremities = await stores.events.get_forward_extremities(room_id)
            prev_ids = set(event.prev_event_ids())
            new_extremities = [e for e in old_extremities if e not in prev_ids and e != event.event_id]
            new_extremities.append(event.event_id)
            new_current = await self._current_state_after(event, context, new_extremities)
            old_current = await stores.state.get_current_state_ids(room_id)
            removed = [key for key in old_current if key not in new_current]
            changed = {key: eid for key, eid in new_current.items() if old_current.get(key) != eid}
            memberships = await self._memberships_of(event, changed)

            if not self._sequence_ready:
                await self._hs.db.runInteraction("ensure_state_group_sequence", self._ensure_sequence_txn)
                self._sequence_ready = True

            generator = self._hs.id_generators["events"]
            try:
                async with generator.get_next() as stream_ordering:
                    groups = await self._hs.db.runInteraction(
                        "persist_event",
                        self._persist_txn,
                        event,
                        context,
                        stream_ordering,
                        new_extremities,
                        removed,
                        changed,
                        memberships,
                    )
            except self._hs.db.engine.module.IntegrityError:
                # only possible if a writer outside this room lock persisted
                # the same transaction id (writers reconfigured mid-flight)
                earlier = await self._event_for_txn_id(event)
                if earlier is None:
                    raise
                logger.info("Transaction id of %s was used by %s meanwhile", event.event_id, earlier.event_id)
                return earlier, earlier.internal_metadata.stream_ordering  # type: ignore[return-value]
            context.state_group_before, context.state_group_after = groups
            event.internal_metadata.stream_ordering = stream_ordering
            event.internal_metadata.instance_name = self._hs.instance_name

        events_persisted.labels(_category(event)).inc()
        users = [event.state_key] if event.type == "m.room.member" and event.state_key else []
        self._hs.notifier.on_new_event("events", stream_ordering, rooms=[room_id], users=users)
        return event, stream_ordering

    # -- before the transaction ---------------------------------------------------
    async def _event_for_txn_id(self, event: FrozenEvent) -> Optional[FrozenEvent]:
        """The event already persisted for this event's transaction id, if any."""
        meta = event.internal_metadata
        if meta.txn_id is None:
            return None
        stores = self._hs.stores
        event_id = await stores.events.get_event_id_for_txn(event.room_id, event.sender, meta.device_id, meta.txn_id)
        if event_id is None:
            return None
        return await stores.events.get_event(event_id)

    async def _current_state_after(self, event: FrozenEvent, context: EventContext, extremities: list[str]) -> StateMap:
        """The room's state at its new extremities: resolved when the DAG is forked."""
        state_after = context.state_ids_after(event)
        if len(extremities) == 1:
            return state_after
        others = [e for e in extremities if e != event.event_id]
        states = await self._hs.stores.state.get_state_ids_for_events(others)
        state_sets = [state_after] + [states[e] for e in others if e in states]
        return await resolve_events(
            event.room_version, state_sets, {event.event_id: event}, self._hs.stores.events.unredacted_view()
        )

    async def _memberships_of(self, event: FrozenEvent, changed: StateMap) -> dict[str, Optional[str]]:
        """event id -> membership, for the member events entering current state."""
        member_ids = [eid for (etype, _), eid in changed.items() if etype == "m.room.member" and eid != event.event_id]
        events = await self._hs.stores.events.get_unredacted_events(member_ids)
        result = {eid: ev.membership for eid, ev in events.items()}
        if event.type == "m.room.member":
            result[event.event_id] = event.membership
        return result

    # -- the transaction ----------------------------------------------------------
    def _ensure_sequence_txn(self, txn: Any) -> None:
        txn.execute("SELECT COALESCE(MAX(id), 0) FROM state_groups")
        self._hs.db.engine.ensure_sequence_txn(txn, STATE_GROUP_SEQUENCE, int(txn.fetchone()[0]))

    def _persist_txn(
        self,
        txn: Any,
        event: FrozenEvent,
        context: EventContext,
        stream_ordering: int,
        extremities: list[str],
        removed: list[tuple[str, str]],
        changed: StateMap,
        memberships: dict[str, Optional[str]],
    ) -> tuple[int, int]:
        room_id, event_id = event.room_id, event.event_id
        now = self._hs.clock.time_msec()
        meta = event.internal_metadata

        before_group = context.state_group_before
        if before_group is None:
            before_group = self._store_state_group_txn(
                txn, room_id, event_id, context.state_ids_before, context.prev_group_hint
            )
        after_group = before_group
        if event.is_state():
            after_group = self._store_state_group_txn(
                txn, room_id, event_id, context.state_ids_after(event), before_group
            )

        txn.execute(
            "INSERT INTO events (stream_ordering, event_id, room_id, type, state_key, sender, depth,"
            " origin_server_ts, received_ts, instance_name, outlier, rejected_reason, redacts)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                stream_ordering, event_id, room_id, event.type, event.state_key, event.sender, event.depth,
                event.origin_server_ts, now, self._hs.instance_name, meta.outlier, meta.rejected_reason,
                event.redacts,
            ),
        )  # fmt: skip
        internal = {
            k: v
            for k, v in (("txn_id", meta.txn_id), ("device_id", meta.device_id), ("token_id", meta.token_id))
            if v is not None
        }
        txn.execute(
            "INSERT INTO event_json (event_id, room_id, room_version, json, internal_metadata) VALUES (?, ?, ?, ?, ?)",
            (
                event_id,
                room_id,
                event.room_version.identifier,
                encode_canonical_json(event.get_dict()).decode("utf-8"),
                json.dumps(internal),
            ),
        )
        for prev_id in set(event.prev_event_ids()):
            txn.execute("INSERT INTO event_edges (event_id, prev_event_id) VALUES (?, ?)", (event_id, prev_id))
        for auth_id in set(event.auth_event_ids()):
            txn.execute(
                "INSERT INTO event_auth (event_id, auth_id, room_id) VALUES (?, ?, ?)", (event_id, auth_id, room_id)
            )
        txn.execute(
            "INSERT INTO event_to_state_groups (event_id, state_group, state_group_before) VALUES (?, ?, ?)",
            (event_id, after_group, before_group),
        )

        txn.execute("DELETE FROM event_forward_extremities WHERE room_id = ?", (room_id,))
        for extremity in extremities:
            txn.execute("INSERT INTO event_forward_extremities (room_id, event_id) VALUES (?, ?)", (room_id, extremity))
        for event_type, state_key in removed:
            txn.execute(
                "DELETE FROM current_state_events WHERE room_id = ? AND type = ? AND state_key = ?",
                (room_id, event_type, state_key),
            )
        for (event_type, state_key), state_id in changed.items():
            txn.execute(
                "INSERT INTO current_state_events (room_id, type, state_key, event_id, membership)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (room_id, type, state_key)"
                " DO UPDATE SET event_id = excluded.event_id, membership = excluded.membership",
                (room_id, event_type, state_key, state_id, memberships.get(state_id)),
            )

        if event.type == "m.room.create" and event.is_state():
            creator = event.content.get("creator") if not event.room_version.implicit_room_creator else None
            txn.execute(
                "INSERT INTO rooms (room_id, room_version, creator, is_public, created_ts) VALUES (?, ?, ?, ?, ?)",
                (room_id, event.room_version.identifier, creator or event.sender, False, now),
            )
        if event.type == "m.room.member" and event.is_state():
            content = event.content
            txn.execute(
                "INSERT INTO room_memberships (event_id, user_id, sender, room_id, membership, display_name,"
                " avatar_url, stream_ordering, forgotten) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0)",
                (
                    event_id, event.state_key, event.sender, room_id, event.membership,
                    _str_or_none(content.get("displayname")), _str_or_none(content.get("avatar_url")),
                    stream_ordering,
                ),
            )  # fmt: skip
        if event.redacts is not None:
            txn.execute(
                "INSERT INTO redactions (event_id, redacts, received_ts) VALUES (?, ?, ?)",
                (event_id, event.redacts, now),
            )
        if meta.txn_id is not None:
            txn.execute(
                "INSERT INTO event_txn_ids (room_id, user_id, device_id, txn_id, event_id, inserted_ts)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (room_id, event.sender, meta.device_id or "", meta.txn_id, event_id, now),
            )
        # search index and relations (a redaction removes its target from both)
        index_event_txn(txn, event, stream_ordering)
        store_relation_txn(txn, event, stream_ordering)
        store_push_actions_txn(txn, event, stream_ordering, context.thread_id, context.push_actions, now)
        self._hs.id_generators["events"].record_position_txn(txn, stream_ordering)
        return before_group, after_group

    def _store_state_group_txn(
        self, txn: Any, room_id: str, event_id: str, state: StateMap, prev_group: Optional[int]
    ) -> int:
        """Writes a state group holding `state`: a delta on `prev_group` unless the
        chain is too long or the delta would need to remove keys."""
        group = self._hs.db.engine.allocate_from_sequence_txn(txn, STATE_GROUP_SEQUENCE, 1)[0]
        rows: StateMap = state
        chain_length = 0
        if prev_group is not None:
            txn.execute("SELECT chain_length FROM state_groups WHERE id = ?", (prev_group,))
            chain_length = int(txn.fetchone()[0]) + 1
            prev_state = get_state_for_group_txn(txn, prev_group)
            if chain_length >= MAX_STATE_GROUP_CHAIN or any(key not in state for key in prev_state):
                prev_group, chain_length = None, 0
            else:
                rows = {key: eid for key, eid in state.items() if prev_state.get(key) != eid}
        txn.execute(
            "INSERT INTO state_groups (id, room_id, event_id, prev_group, chain_length) VALUES (?, ?, ?, ?, ?)",
            (group, room_id, event_id, prev_group, chain_length),
        )
        for (event_type, state_key), state_id in rows.items():
            txn.execute(
                "INSERT INTO state_groups_state (state_group, room_id, type, state_key, event_id)"
                " VALUES (?, ?, ?, ?, ?)",
                (group, room_id, event_type, state_key, state_id),
            )
        return group


def _str_or_none(value: Any) -> Optional[str]:
    return value if isinstance(value, str) else None
