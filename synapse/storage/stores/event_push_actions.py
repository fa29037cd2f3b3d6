"""Event push actions: unread counts and GET /notifications.

Writes: `store_push_actions_txn` runs inside the events persister's
transaction (synapse/storage/persist_events.py) with the actions computed
where the event was created (synapse/push/bulk.py); a redaction removes
its target's rows there too.

A row is read when the user's latest `m.read` or `m.read.private` receipt
in the room is at or after it: an unthreaded receipt covers every thread,
a threaded one (thread id `main` or a thread root) only its own thread.
Receipt positions are the stream orderings of the events they point at.
Sending an event reads its thread up to it (`event_push_last_sent`).
"""

import json
from typing import Any, Collection, Optional

import attrs

from synapse.events.model import FrozenEvent
from synapse.push.evaluator import notifies
from synapse.storage.database import SELECT_MANY_BATCH_SIZE, DatabasePool, LoggingTransaction

JsonDict = dict[str, Any]
MAIN_THREAD = "main"

# where the user has read up to for a push action row `epa`: the latest
# receipt covering its thread, or the latest event the user sent in it (0: none)
_RECEIPT_POS = (
    "COALESCE((SELECT MAX(re.stream_ordering) FROM receipts AS r JOIN events AS re ON re.event_id = r.event_id"
    " WHERE r.room_id = epa.room_id AND r.user_id = epa.user_id"
    " AND r.receipt_type IN ('m.read', 'm.read.private') AND (r.thread_id = '' OR r.thread_id = epa.thread_id)), 0)"
)
_SENT_POS = (
    "COALESCE((SELECT s.stream_ordering FROM event_push_last_sent AS s"
    " WHERE s.room_id = epa.room_id AND s.user_id = epa.user_id AND s.thread_id = epa.thread_id), 0)"
)
_UNREAD = f"(epa.stream_ordering > {_RECEIPT_POS} AND epa.stream_ordering > {_SENT_POS})"


_ACTION_COLUMNS = (
    "event_id", "user_id", "room_id", "thread_id", "stream_ordering", "actions", "notif", "highlight", "received_ts"
)  # fmt: skip


# -- writes, inside the persister's transaction -------------------------------
def store_push_actions_txn(
    txn: LoggingTransaction,
    event: FrozenEvent,
    stream_ordering: int,
    thread_id: str,
    actions_by_user: dict[str, list[Any]],
    now_ms: int,
) -> None:
    """Records a new event's push actions and that its sender has read its
    thread up to it; a redaction drops its target's actions."""
    if event.redacts is not None:
        txn.execute("DELETE FROM event_push_actions WHERE event_id = ?", (event.redacts,))
    if not event.internal_metadata.outlier:
        DatabasePool.simple_upsert_txn(
            txn,
            "event_push_last_sent",
            {"room_id": event.room_id, "user_id": event.sender, "thread_id": thread_id},
            {"stream_ordering": stream_ordering},
        )
    rows = []
    for user_id, actions in sorted(actions_by_user.items()):
        notify, highlight = notifies(actions)
        rows.append(
            (event.event_id, user_id, event.room_id, thread_id, stream_ordering, json.dumps(actions),
             int(notify), int(highlight), now_ms)
        )  # fmt: skip
    DatabasePool.simple_insert_many_txn(txn, "event_push_actions", _ACTION_COLUMNS, rows)


@attrs.frozen
class Notification:
    event_id: str
    room_id: str
    stream_ordering: int
    actions: list[Any]
    received_ts: int
    read: bool


class EventPushActionsStore:
    def __init__(self, db: DatabasePool) -> None:
        self._db = db

    async def get_unread_counts(self, user_id: str, room_ids: Collection[str]) -> dict[str, dict[str, tuple[int, int]]]:
        """room -> thread -> (notification count, highlight count) of unread rows."""

        def txn(txn: LoggingTransaction) -> dict[str, dict[str, tuple[int, int]]]:
            rooms = sorted(room_ids)
            counts: dict[str, dict[str, tuple[int, int]]] = {}
            for start in range(0, len(rooms), SELECT_MANY_BATCH_SIZE):
                in_sql, in_args = txn.database_engine.in_list_clause(
                    "epa.room_id", rooms[start : start + SELECT_MANY_BATCH_SIZE]
                )
                txn.execute(
                    "SELECT epa.room_id, epa.thread_id, SUM(epa.notif), SUM(epa.highlight)"
                    f" FROM event_push_actions AS epa WHERE epa.user_id = ? AND {in_sql}"
                    f" AND {_UNREAD} GROUP BY epa.room_id, epa.thread_id",
                    [user_id, *in_args],
                )
                for room_id, thread_id, notif, highlight in txn.fetchall():
                    counts.setdefault(room_id, {})[thread_id] = (int(notif or 0), int(highlight or 0))
            return counts

        return await self._db.runInteraction("get_unread_counts", txn)

    async def get_notifications(
        self, user_id: str, before: Optional[int], limit: int, only_highlight: bool
    ) -> list[Notification]:
        """The user's notifying rows, newest first, below stream ordering `before`."""

        def txn(txn: LoggingTransaction) -> list[Notification]:
            clauses, args = ["epa.user_id = ?", "epa.notif = 1"], [user_id]
            if before is not None:
                clauses.append("epa.stream_ordering < ?")
                args.append(before)
            if only_highlight:
                clauses.append("epa.highlight = 1")
            txn.execute(
                "SELECT epa.event_id, epa.room_id, epa.stream_ordering, epa.actions, epa.received_ts,"
                f" NOT {_UNREAD} FROM event_push_actions AS epa"
                f" WHERE {' AND '.join(clauses)} ORDER BY epa.stream_ordering DESC LIMIT ?",
                [*args, limit],
            )
            return [
                Notification(event_id, room_id, int(pos), json.loads(actions), int(ts), bool(read))
                for event_id, room_id, pos, actions, ts, read in txn.fetchall()
            ]

        return await self._db.runInteraction("get_notifications", txn)
