"""Event relations: /relations, /threads and the rows behind bundled aggregations.

Writes: `store_relation_txn` runs inside the events persister's
transaction (synapse/storage/persist_events.py). An event whose content
has `m.relates_to` with a `rel_type` and an `event_id` becomes a row of
`event_relations`; an `m.thread` relation also moves its thread's row in
`threads` (the latest event, which /threads orders by). A redaction
deletes its target's relation and, for a thread reply, recomputes the
thread's latest event (or drops the thread when no reply is left).

Reads page relations in the room's topological order, with the same
tokens as /messages (`t<depth>-<stream>`, or a /sync `s<stream>`).
"""

from typing import Any, Collection, Optional

import attrs

from synapse.events.model import FrozenEvent
from synapse.storage.database import DatabasePool, LoggingTransaction
from synapse.streams.tokens import RoomStreamToken

THREAD = "m.thread"
REPLACE = "m.replace"
REFERENCE = "m.reference"
ANNOTATION = "m.annotation"
# how deep `recurse=true` follows relations of relations
MAX_RECURSION_DEPTH = 3
_BATCH = 500


def relation_of(event: FrozenEvent) -> Optional[tuple[str, str, Optional[str]]]:
    """(rel_type, parent event id, annotation key) of an event's `m.relates_to`, if valid."""
    relates_to = event.content.get("m.relates_to")
    if not isinstance(relates_to, dict):
        return None
    rel_type, parent = relates_to.get("rel_type"), relates_to.get("event_id")
    if not isinstance(rel_type, str) or not isinstance(parent, str) or not rel_type or not parent:
        return None
    key = relates_to.get("key") if rel_type == ANNOTATION else None
    return rel_type, parent, key if isinstance(key, str) else None


# -- writes, inside the persister's transaction -------------------------------
def store_relation_txn(txn: LoggingTransaction, event: FrozenEvent, stream_ordering: int) -> None:
    """Records a newly persisted event's relation; a redaction removes its target's.

    Called by the events persister in the event's own transaction."""
    meta = event.internal_metadata
    if meta.rejected_reason is not None or meta.outlier:
        return
    if event.redacts is not None:
        delete_relation_txn(txn, event.redacts)
        return
    relation = relation_of(event)
    if relation is None:
        return
    rel_type, parent, key = relation
    txn.execute(
        "INSERT INTO event_relations (event_id, relates_to_id, relation_type, aggregation_key, room_id, type,"
        " sender, stream_ordering) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (event.event_id, parent, rel_type, key, event.room_id, event.type, event.sender, stream_ordering),
    )
    if rel_type == THREAD:
        txn.execute(
            "INSERT INTO threads (room_id, thread_id, latest_event_id, stream_ordering) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (room_id, thread_id) DO UPDATE SET latest_event_id = excluded.latest_event_id,"
            " stream_ordering = excluded.stream_ordering WHERE excluded.stream_ordering > threads.stream_ordering",
            (event.room_id, parent, event.event_id, stream_ordering),
        )


def delete_relation_txn(txn: LoggingTransaction, event_id: str) -> None:
    """Forgets a redacted event's relation and keeps its thread's latest event right."""
    txn.execute("SELECT relates_to_id, relation_type, room_id FROM event_relations WHERE event_id = ?", (event_id,))
    row = txn.fetchone()
    if row is None:
        return
    parent, rel_type, room_id = row
    txn.execute("DELETE FROM event_relations WHERE event_id = ?", (event_id,))
    if rel_type != THREAD:
        return
    txn.execute(
        "SELECT event_id, stream_ordering FROM event_relations WHERE relates_to_id = ? AND relation_type = ?"
        " ORDER BY stream_ordering DESC LIMIT 1",
        (parent, THREAD),
    )
    latest = txn.fetchone()
    if latest is None:
        txn.execute("DELETE FROM threads WHERE room_id = ? AND thread_id = ?", (room_id, parent))
    else:
        txn.execute(
            "UPDATE threads SET latest_event_id = ?, stream_ordering = ? WHERE room_id = ? AND thread_id = ?",
            (latest[0], latest[1], room_id, parent),
        )


# -- reads ----------------------------------------------------------------------
@attrs.frozen
class AggregationRows:
    """What bundled aggregations are built from, for a batch of parent events."""

    # thread root -> (number of replies, latest reply's event id)
    threads: dict[str, tuple[int, str]]
    # thread roots the user replied in
    participated: set[str]
    # original -> ids of events claiming to replace it
    replacements: dict[str, list[str]]
    # parent -> ids of events referencing it, oldest first
    references: dict[str, list[str]]


def _after(token: RoomStreamToken) -> tuple[str, list[Any]]:
    if token.topological is None:
        return "e.stream_ordering > ?", [token.stream]
    return "(e.depth > ? OR (e.depth = ? AND e.stream_ordering > ?))", [
        token.topological,
        token.topological,
        token.stream,
    ]


class RelationsStore:
    def __init__(self, db: DatabasePool, events_store: Any) -> None:
        self._db = db
        self._events = events_store

    async def get_relations(
        self,
        room_id: str,
        parent_id: str,
        *,
        relation_type: Optional[str] = None,
        event_type: Optional[str] = None,
        from_token: Optional[RoomStreamToken] = None,
        to_token: Optional[RoomStreamToken] = None,
        direction: str = "b",
        limit: int = 5,
        recurse: bool = False,
    ) -> tuple[list[FrozenEvent], Optional[RoomStreamToken]]:
        """Events relating to `parent_id` (directly, or up to MAX_RECURSION_DEPTH
        with `recurse`), newest first for direction "b", and the token after
        the last one when more remain."""
        rows = await self._db.runInteraction(
            "get_relations",
            self._relations_txn,
            room_id,
            parent_id,
            relation_type,
            event_type,
            from_token,
            to_token,
            direction,
            limit + 1,
            MAX_RECURSION_DEPTH if recurse else 1,
        )
        more = len(rows) > limit
        rows = rows[:limit]
        events = await self._events.get_events_as_list([event_id for event_id, _, _ in rows])
        next_token = None
        if more and rows:
            _, depth, stream = rows[-1]
            next_token = RoomStreamToken(depth, stream - 1 if direction == "b" else stream)
        return events, next_token

    def _relations_txn(
        self,
        txn: LoggingTransaction,
        room_id: str,
        parent_id: str,
        relation_type: Optional[str],
        event_type: Optional[str],
        from_token: Optional[RoomStreamToken],
        to_token: Optional[RoomStreamToken],
        direction: str,
        row_limit: int,
        max_depth: int,
    ) -> list[tuple[str, int, int]]:
        backwards = direction == "b"
        lower, upper = (to_token, from_token) if backwards else (from_token, to_token)
        clauses = ["r.room_id = ?"]
        args: list[Any] = [room_id]
        if relation_type is not None:
            clauses.append("r.relation_type = ?")
            args.append(relation_type)
        if event_type is not None:
            clauses.append("r.type = ?")
            args.append(event_type)
        if lower is not None:
            clause, clause_args = _after(lower)
            clauses.append(clause)
            args += clause_args
        if upper is not None:
            clause, clause_args = _after(upper)
            clauses.append(f"NOT {clause}")
            args += clause_args
        order = "DESC" if backwards else "ASC"
        txn.execute(
            "WITH RECURSIVE related (event_id, level) AS ("
            " SELECT event_id, 1 FROM event_relations WHERE relates_to_id = ?"
            " UNION SELECT c.event_id, related.level + 1 FROM event_relations AS c"
            " JOIN related ON c.relates_to_id = related.event_id WHERE related.level < ?)"
            " SELECT DISTINCT r.event_id, e.depth, e.stream_ordering FROM related"
            " JOIN event_relations AS r ON r.event_id = related.event_id"
            " JOIN events AS e ON e.event_id = r.event_id"
            f" WHERE {' AND '.join(clauses)} ORDER BY e.depth {order}, e.stream_ordering {order} LIMIT ?",
            [parent_id, max_depth, *args, row_limit],
        )
        return [(event_id, int(depth), int(stream)) for event_id, depth, stream in txn.fetchall()]

    async def get_threads(
        self, room_id: str, *, participant: Optional[str] = None, before_stream: Optional[int] = None, limit: int = 10
    ) -> tuple[list[tuple[str, int]], Optional[int]]:
        """(thread root id, latest activity position) of the room's threads,
        most recently active first; with `participant`, only threads that user
        started or replied in. Also the `before_stream` of the next page, if any."""

        def txn_fn(txn: LoggingTransaction) -> list[tuple[str, int]]:
            clauses = ["t.room_id = ?"]
            args: list[Any] = [room_id]
            if before_stream is not None:
                clauses.append("t.stream_ordering < ?")
                args.append(before_stream)
            if participant is not None:
                clauses.append(
                    "(EXISTS (SELECT 1 FROM event_relations AS r WHERE r.relates_to_id = t.thread_id"
                    " AND r.relation_type = ? AND r.sender = ?)"
                    " OR EXISTS (SELECT 1 FROM events AS e WHERE e.event_id = t.thread_id AND e.sender = ?))"
                )
                args += [THREAD, participant, participant]
            txn.execute(
                f"SELECT t.thread_id, t.stream_ordering FROM threads AS t WHERE {' AND '.join(clauses)}"
                " ORDER BY t.stream_ordering DESC LIMIT ?",
                [*args, limit + 1],
            )
            return [(thread_id, int(stream)) for thread_id, stream in txn.fetchall()]

        rows = await self._db.runInteraction("get_threads", txn_fn)
        more = len(rows) > limit
        rows = rows[:limit]
        return rows, (rows[-1][1] if more and rows else None)

    async def get_aggregation_rows(self, event_ids: Collection[str], user_id: str) -> AggregationRows:
        """The thread, replacement and reference rows of many parents, in one transaction."""
        ids = list(event_ids)

        def txn_fn(txn: LoggingTransaction) -> AggregationRows:
            rows = AggregationRows({}, set(), {}, {})
            for start in range(0, len(ids), _BATCH):
                in_sql, in_args = txn.database_engine.in_list_clause("r.relates_to_id", ids[start : start + _BATCH])
                txn.execute(
                    "SELECT r.relates_to_id, COUNT(*), t.latest_event_id FROM event_relations AS r"
                    " JOIN threads AS t ON t.thread_id = r.relates_to_id AND t.room_id = r.room_id"
                    f" WHERE {in_sql} AND r.relation_type = ? GROUP BY r.relates_to_id, t.latest_event_id",
                    [*in_args, THREAD],
                )
                for parent, count, latest in txn.fetchall():
                    rows.threads[parent] = (int(count), latest)
                txn.execute(
                    f"SELECT DISTINCT r.relates_to_id FROM event_relations AS r WHERE {in_sql}"
                    " AND r.relation_type = ? AND r.sender = ?",
                    [*in_args, THREAD, user_id],
                )
                rows.participated.update(parent for (parent,) in txn.fetchall())
                txn.execute(
                    f"SELECT r.relates_to_id, r.relation_type, r.event_id FROM event_relations AS r WHERE {in_sql}"
                    " AND r.relation_type IN (?, ?) ORDER BY r.stream_ordering",
                    [*in_args, REPLACE, REFERENCE],
                )
                for parent, rel_type, event_id in txn.fetchall():
                    target = rows.replacements if rel_type == REPLACE else rows.references
                    target.setdefault(parent, []).append(event_id)
            return rows

        if not ids:
            return AggregationRows({}, set(), {}, {})
        return await self._db.runInteraction("get_aggregation_rows", txn_fn)
