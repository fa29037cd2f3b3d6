"""Read queries over the events stream and the room DAG's topological order.

Two orders exist. The stream order (`stream_ordering`) is the order this
server persisted events in; /sync and /events read it. The topological
order (`depth`, then `stream_ordering`) is the order of the room's history;
/messages and /context paginate it. A `RoomStreamToken` names a gap between
events: every event whose key is <= the token lies before it. For a
topological token the key is `(depth, stream_ordering)`; for a stream token
(`s<n>`, as /sync hands out) only `stream_ordering` counts.

Every method runs in one transaction however many rooms it is asked about
(with one indexed LIMIT statement per room where each room needs its own
newest-N), then loads the events with one `get_events_as_list` call.
Filters are pushed into SQL (types with `*` wildcards, senders); only
`contains_url` needs the event JSON and is checked afterwards, fetching more
rows until the page is full.
"""

import json
from typing import Any, Iterable, Mapping, Optional, Sequence

import attrs

from synapse.api.filtering import Filter
from synapse.events.model import FrozenEvent
from synapse.storage.database import DatabasePool, LoggingTransaction
from synapse.streams.tokens import RoomStreamToken

# Rooms per statement when a query names many rooms.
_ROOM_BATCH = 500


@attrs.frozen
class MembershipChange:
    """One row of a user's membership history."""

    room_id: str
    membership: str
    event_id: str
    stream_ordering: int
    sender: str


@attrs.frozen
class RoomTimeline:
    """The newest events of one room in a stream range, oldest first."""

    events: list[FrozenEvent]
    # True when older events in the range were left out by the limit
    limited: bool


def token_before(event: FrozenEvent) -> RoomStreamToken:
    """The topological gap just before `event`."""
    return RoomStreamToken(event.depth, _stream(event) - 1)


def token_after(event: FrozenEvent) -> RoomStreamToken:
    """The topological gap just after `event`."""
    return RoomStreamToken(event.depth, _stream(event))


def _stream(event: FrozenEvent) -> int:
    stream = event.internal_metadata.stream_ordering
    assert stream is not None, f"{event.event_id} has no stream position"
    return stream


def _after_clause(token: RoomStreamToken) -> tuple[str, list[Any]]:
    """SQL true for events after the gap `token`."""
    if token.topological is None:
        return "e.stream_ordering > ?", [token.stream]
    return (
        "(e.depth > ? OR (e.depth = ? AND e.stream_ordering > ?))",
        [token.topological, token.topological, token.stream],
    )


def _not_after_clause(token: RoomStreamToken) -> tuple[str, list[Any]]:
    """SQL true for events before the gap `token`."""
    clause, args = _after_clause(token)
    return f"NOT {clause}", args


def _like_pattern(type_pattern: str) -> str:
    escaped = type_pattern.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped.replace("*", "%")


def _type_clause(pattern: str) -> tuple[str, list[Any]]:
    if "*" in pattern:
        return "e.type LIKE ? ESCAPE '\\'", [_like_pattern(pattern)]
    return "e.type = ?", [pattern]


def filter_clauses(event_filter: Optional[Filter]) -> tuple[list[str], list[Any]]:
    """SQL conditions equivalent to the filter's type and sender rules."""
    if event_filter is None:
        return [], []
    clauses: list[str] = []
    args: list[Any] = []
    if event_filter.types is not None:
        parts = [_type_clause(p) for p in event_filter.types]
        clauses.append("(" + (" OR ".join(c for c, _ in parts) or "1 = 0") + ")")
        args += [a for _, a_list in parts for a in a_list]
    for pattern in event_filter.not_types:
        clause, clause_args = _type_clause(pattern)
        clauses.append(f"NOT {clause}")
        args += clause_args
    if event_filter.senders is not None:
        if event_filter.senders:
            clauses.append(f"e.sender IN ({','.join('?' * len(event_filter.senders))})")
            args += event_filter.senders
        else:
            clauses.append("1 = 0")
    if event_filter.not_senders:
        clauses.append(f"e.sender NOT IN ({','.join('?' * len(event_filter.not_senders))})")
        args += event_filter.not_senders
    return clauses, args


class StreamStore:
    def __init__(self, db: DatabasePool, events_store: Any, events_id_gen: Any) -> None:
        self._db = db
        self._events = events_store
        self._id_gen = events_id_gen

    def get_current_position(self) -> int:
        """The highest events-stream position below which everything is persisted."""
        return self._id_gen.get_current_token()

    # -- stream order: /sync and /events ----------------------------------
    async def get_recent_events_for_rooms(
        self,
        room_ids: Iterable[str],
        from_pos: int,
        to_pos: int,
        limit: int,
        event_filter: Optional[Filter] = None,
    ) -> dict[str, RoomTimeline]:
        """For each room with events in (from_pos, to_pos]: its newest `limit`
        events passing the filter, oldest first. Rooms without any are left out."""
        return await self.get_recent_events_for_room_ranges(
            {room_id: (from_pos, to_pos) for room_id in room_ids}, limit, event_filter
        )

    async def get_recent_events_for_room_ranges(
        self, ranges: Mapping[str, tuple[int, int]], limit: int, event_filter: Optional[Filter] = None
    ) -> dict[str, RoomTimeline]:
        """As get_recent_events_for_rooms, with a (from, to] range per room
        (e.g. a left room's timeline stops at the leave)."""
        ranges = {room_id: r for room_id, r in ranges.items() if r[1] > r[0]}
        if not ranges or limit <= 0:
            return {}
        rows = await self._db.runInteraction(
            "get_recent_events_for_rooms", self._recent_events_txn, ranges, limit + 1, event_filter, db_autocommit=True
        )
        return await self._timelines_from_rows(rows, ranges, limit, event_filter)

    def _recent_events_txn(
        self,
        txn: LoggingTransaction,
        ranges: Mapping[str, tuple[int, int]],
        row_limit: int,
        event_filter: Optional[Filter],
    ) -> dict[str, list[tuple[str, int]]]:
        incremental = [r for r in ranges.values() if r[0] > 0]
        changed: set[str] = set()
        if incremental:
            # a range scan on the primary key finds the few rooms that
            # changed, so unchanged rooms of an incremental sync cost nothing
            txn.execute(
                "SELECT DISTINCT room_id FROM events WHERE stream_ordering > ? AND stream_ordering <= ?",
                (min(r[0] for r in incremental), max(r[1] for r in incremental)),
            )
            changed = {room_id for (room_id,) in txn}
        result: dict[str, list[tuple[str, int]]] = {}
        for room_id, (from_pos, to_pos) in ranges.items():
            if from_pos > 0 and room_id not in changed:
                continue
            ids = self._room_events_txn(
                txn,
                room_id,
                lower=RoomStreamToken(None, from_pos),
                upper=RoomStreamToken(None, to_pos),
                descending=True,
                topological=False,
                limit=row_limit,
                event_filter=event_filter,
            )
            if ids:
                result[room_id] = ids
        return result

    async def _timelines_from_rows(
        self,
        rows: dict[str, list[tuple[str, int]]],
        ranges: Mapping[str, tuple[int, int]],
        limit: int,
        event_filter: Optional[Filter],
    ) -> dict[str, RoomTimeline]:
        all_ids = [event_id for ids in rows.values() for event_id, _ in ids]
        events = {e.event_id: e for e in await self._events.get_events_as_list(all_ids)}
        timelines: dict[str, RoomTimeline] = {}
        for room_id, ids in rows.items():
            room_events = [events[i] for i, _ in ids if i in events]
            if event_filter is not None and event_filter.contains_url is not None:
                from_pos = ranges[room_id][0]
                room_events = await self._refill(room_id, room_events, ids, from_pos, limit + 1, event_filter)
            limited = len(room_events) > limit
            room_events = room_events[:limit]
            room_events.reverse()
            if room_events:
                timelines[room_id] = RoomTimeline(room_events, limited)
        return timelines

    async def _refill(
        self,
        room_id: str,
        events: list[FrozenEvent],
        ids: list[tuple[str, int]],
        from_pos: int,
        wanted: int,
        event_filter: Filter,
    ) -> list[FrozenEvent]:
        """Applies the non-SQL part of the filter (newest first), fetching older rows until `wanted` pass."""
        kept = [e for e in events if event_filter.check(e)]
        oldest = ids[-1][1] if ids else None
        while len(kept) < wanted and oldest is not None and len(ids) >= wanted:
            ids = await self._db.runInteraction(
                "get_recent_events_refill",
                self._room_events_txn,
                room_id,
                RoomStreamToken(None, from_pos),
                RoomStreamToken(None, oldest - 1),
                True,
                False,
                wanted,
                event_filter,
                db_autocommit=True,
            )
            more = await self._events.get_events_as_list([i for i, _ in ids])
            kept += [e for e in more if event_filter.check(e)]
            oldest = ids[-1][1] if ids else None
        return kept

    def _room_events_txn(
        self,
        txn: LoggingTransaction,
        room_id: str,
        lower: Optional[RoomStreamToken],
        upper: Optional[RoomStreamToken],
        descending: bool,
        topological: bool,
        limit: int,
        event_filter: Optional[Filter],
    ) -> list[tuple[str, int]]:
        """(event_id, stream_ordering) of the room's events after `lower` and
        not after `upper`, nearest to `upper` first when descending."""
        clauses = ["e.room_id = ?", "NOT e.outlier", "e.rejected_reason IS NULL"]
        args: list[Any] = [room_id]
        if lower is not None:
            clause, clause_args = _after_clause(lower)
            clauses.append(clause)
            args += clause_args
        if upper is not None:
            clause, clause_args = _not_after_clause(upper)
            clauses.append(clause)
            args += clause_args
        filter_sql, filter_args = filter_clauses(event_filter)
        clauses += filter_sql
        args += filter_args
        order = "DESC" if descending else "ASC"
        order_by = f"e.depth {order}, e.stream_ordering {order}" if topological else f"e.stream_ordering {order}"
        txn.execute(
            f"SELECT e.event_id, e.stream_ordering FROM events AS e WHERE {' AND '.join(clauses)}"
            f" ORDER BY {order_by} LIMIT ?",
            [*args, limit],
        )
        return [(event_id, int(stream)) for event_id, stream in txn]

    async def get_events_for_rooms_between(
        self, room_ids: Iterable[str], from_pos: int, to_pos: int, limit: int
    ) -> list[FrozenEvent]:
        """Events of any of the rooms in (from_pos, to_pos], oldest first, at most `limit`."""
        room_ids = list(room_ids)
        if not room_ids or to_pos <= from_pos:
            return []

        def txn_fn(txn: LoggingTransaction) -> list[tuple[int, str]]:
            found: list[tuple[int, str]] = []
            for start in range(0, len(room_ids), _ROOM_BATCH):
                in_sql, in_args = txn.database_engine.in_list_clause("room_id", room_ids[start : start + _ROOM_BATCH])
                txn.execute(
                    f"SELECT stream_ordering, event_id FROM events WHERE {in_sql}"
                    " AND stream_ordering > ? AND stream_ordering <= ? AND NOT outlier"
                    " AND rejected_reason IS NULL ORDER BY stream_ordering ASC LIMIT ?",
                    [*in_args, from_pos, to_pos, limit],
                )
                found += [(int(s), e) for s, e in txn]
            found.sort()
            return found[:limit]

        rows = await self._db.runInteraction("get_events_for_rooms_between", txn_fn, db_autocommit=True)
        return await self._events.get_events_as_list([event_id for _, event_id in rows])

    async def get_last_event_in_rooms(self, room_ids: Iterable[str], at_pos: int) -> dict[str, FrozenEvent]:
        """Each room's newest event at or before stream position `at_pos`."""
        room_ids = list(room_ids)

        def txn_fn(txn: LoggingTransaction) -> list[str]:
            found = []
            for room_id in room_ids:
                txn.execute(
                    "SELECT event_id FROM events WHERE room_id = ? AND stream_ordering <= ?"
                    " AND NOT outlier ORDER BY stream_ordering DESC LIMIT 1",
                    (room_id, at_pos),
                )
                row = txn.fetchone()
                if row is not None:
                    found.append(row[0])
            return found

        ids = await self._db.runInteraction("get_last_event_in_rooms", txn_fn, db_autocommit=True)
        return {e.room_id: e for e in await self._events.get_events_as_list(ids)}

    # -- topological order: /messages and /context -------------------------
    async def paginate_room_events(
        self,
        room_id: str,
        from_token: RoomStreamToken,
        to_token: Optional[RoomStreamToken] = None,
        direction: str = "b",
        limit: int = 10,
        event_filter: Optional[Filter] = None,
    ) -> tuple[list[FrozenEvent], Optional[RoomStreamToken]]:
        """Up to `limit` events from the gap `from_token` towards `to_token`,
        in the direction of travel, and the gap after the last one returned
        (None when the room has nothing more that way)."""
        backwards = direction == "b"
        lower, upper = (to_token, from_token) if backwards else (from_token, to_token)
        wanted = limit + 1
        kept: list[FrozenEvent] = []
        exhausted = False
        while len(kept) < wanted and not exhausted:
            ids = await self._db.runInteraction(
                "paginate_room_events",
                self._room_events_txn,
                room_id,
                lower,
                upper,
                backwards,
                True,
                wanted,
                event_filter,
                db_autocommit=True,
            )
            exhausted = len(ids) < wanted
            batch = await self._events.get_events_as_list([i for i, _ in ids])
            if not batch:
                break
            if backwards:
                upper = token_before(batch[-1])
            else:
                lower = token_after(batch[-1])
            if event_filter is not None and event_filter.contains_url is not None:
                batch = [e for e in batch if event_filter.check(e)]
            kept += batch
        more = len(kept) > limit
        kept = kept[:limit]
        if not kept:
            return [], None
        next_token = token_before(kept[-1]) if backwards else token_after(kept[-1])
        if backwards and not more:
            return kept, None
        return kept, next_token

    async def get_topological_token(self, room_id: str, stream_token: RoomStreamToken) -> RoomStreamToken:
        """The topological gap matching a stream position: just after the room's
        last event at or before it (before everything if there is none)."""
        if stream_token.topological is not None:
            return stream_token
        last = (await self.get_last_event_in_rooms([room_id], stream_token.stream)).get(room_id)
        return token_after(last) if last is not None else RoomStreamToken(0, 0)

    # -- membership history ------------------------------------------------
    async def get_membership_changes_for_user(self, user_id: str, from_pos: int, to_pos: int) -> list[MembershipChange]:
        """The user's membership events in (from_pos, to_pos], oldest first."""
        return await self._db.runInteraction(
            "get_membership_changes_for_user",
            self._membership_rows_txn,
            user_id,
            None,
            from_pos,
            to_pos,
            db_autocommit=True,
        )

    async def get_membership_history(
        self, user_id: str, room_ids: Sequence[str], to_pos: Optional[int] = None
    ) -> dict[str, list[MembershipChange]]:
        """Every membership event of the user in each room (up to `to_pos`), oldest first."""
        rows = await self._db.runInteraction(
            "get_membership_history", self._membership_rows_txn, user_id, list(room_ids), 0, to_pos, db_autocommit=True
        )
        history: dict[str, list[MembershipChange]] = {room_id: [] for room_id in room_ids}
        for row in rows:
            history[row.room_id].append(row)
        return history

    @staticmethod
    def _membership_rows_txn(
        txn: LoggingTransaction,
        user_id: str,
        room_ids: Optional[list[str]],
        from_pos: int,
        to_pos: Optional[int],
    ) -> list[MembershipChange]:
        clauses = ["m.user_id = ?", "m.stream_ordering > ?"]
        args: list[Any] = [user_id, from_pos]
        if to_pos is not None:
            clauses.append("m.stream_ordering <= ?")
            args.append(to_pos)
        batches: list[Optional[list[str]]] = [None]
        if room_ids is not None:
            batches = [room_ids[i : i + _ROOM_BATCH] for i in range(0, len(room_ids), _ROOM_BATCH)]
        found: list[MembershipChange] = []
        for batch in batches:
            batch_clauses, batch_args = list(clauses), list(args)
            if batch is not None:
                in_sql, in_args = txn.database_engine.in_list_clause("m.room_id", batch)
                batch_clauses.append(in_sql)
                batch_args += in_args
            txn.execute(
                "SELECT m.room_id, m.membership, m.event_id, m.stream_ordering, m.sender"
                f" FROM room_memberships AS m WHERE {' AND '.join(batch_clauses)}",
                batch_args,
            )
            found += [MembershipChange(r, ms, e, int(s), snd) for r, ms, e, s, snd in txn]
        found.sort(key=lambda c: c.stream_ordering)
        return found

    # -- current state for many rooms (/sync invites and knocks) -----------
    async def get_current_state_ids_of_types(
        self, room_ids: Sequence[str], types: Sequence[str]
    ) -> dict[str, dict[tuple[str, str], str]]:
        """The current `(type, "")` state of each room, for the given types, in one transaction."""
        room_ids = list(room_ids)
        if not room_ids or not types:
            return {}

        def txn_fn(txn: LoggingTransaction) -> dict[str, dict[tuple[str, str], str]]:
            found: dict[str, dict[tuple[str, str], str]] = {r: {} for r in room_ids}
            for start in range(0, len(room_ids), _ROOM_BATCH):
                in_sql, in_args = txn.database_engine.in_list_clause("room_id", room_ids[start : start + _ROOM_BATCH])
                txn.execute(
                    "SELECT room_id, type, event_id FROM current_state_events"
                    f" WHERE state_key = '' AND type IN ({','.join('?' * len(types))}) AND {in_sql}",
                    [*types, *in_args],
                )
                for room_id, event_type, event_id in txn:
                    found[room_id][(event_type, "")] = event_id
            return found

        return await self._db.runInteraction("get_current_state_ids_of_types", txn_fn, db_autocommit=True)

    # -- room summaries (/sync) --------------------------------------------
    async def get_room_summaries(self, room_ids: Sequence[str], user_id: str) -> dict[str, "RoomSummary"]:
        """Member counts from current state, and heroes for rooms with neither
        a name nor a canonical alias: up to 5 other members, joined or invited
        first (the spec's `m.heroes`)."""
        room_ids = list(room_ids)
        if not room_ids:
            return {}

        def txn_fn(txn: LoggingTransaction) -> dict[str, RoomSummary]:
            counts: dict[str, dict[str, int]] = {r: {} for r in room_ids}
            named: set[str] = set()
            for start in range(0, len(room_ids), _ROOM_BATCH):
                batch = room_ids[start : start + _ROOM_BATCH]
                in_sql, in_args = txn.database_engine.in_list_clause("room_id", batch)
                c_in_sql, c_in_args = txn.database_engine.in_list_clause("c.room_id", batch)
                txn.execute(
                    "SELECT room_id, membership, COUNT(*) FROM current_state_events"
                    f" WHERE type = 'm.room.member' AND {in_sql} GROUP BY room_id, membership",
                    in_args,
                )
                for room_id, membership, count in txn:
                    counts[room_id][membership] = int(count)
                txn.execute(
                    "SELECT c.room_id, j.json FROM current_state_events AS c JOIN event_json AS j USING (event_id)"
                    f" WHERE c.type IN ('m.room.name', 'm.room.canonical_alias') AND c.state_key = '' AND {c_in_sql}",
                    c_in_args,
                )
                for room_id, text in txn:
                    content = json.loads(text).get("content") or {}
                    if content.get("name") or content.get("alias"):
                        named.add(room_id)
            summaries = {}
            for room_id in room_ids:
                heroes: list[str] = []
                if room_id not in named:
                    txn.execute(
                        "SELECT state_key FROM current_state_events WHERE room_id = ? AND type = 'm.room.member'"
                        " AND state_key != ? ORDER BY CASE WHEN membership IN ('join', 'invite') THEN 0 ELSE 1 END,"
                        " state_key LIMIT 5",
                        (room_id, user_id),
                    )
                    heroes = [h for (h,) in txn]
                c = counts[room_id]
                summaries[room_id] = RoomSummary(c.get("join", 0), c.get("invite", 0), heroes)
            return summaries

        return await self._db.runInteraction("get_room_summaries", txn_fn, db_autocommit=True)


@attrs.frozen
class RoomSummary:
    joined_member_count: int
    invited_member_count: int
    heroes: list[str]
