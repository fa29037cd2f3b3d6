"""Room membership as of the current state, and per-user membership history.

Current membership comes from `current_state_events` (its `membership`
column is filled by the persister); `room_memberships` keeps every
membership event and the per-user `forgotten` flag.
"""

from typing import Any, Optional

import attrs

from synapse.storage.database import DatabasePool
from synapse.storage.stores.events_read import EventsReadStore


@attrs.frozen
class RoomForUser:
    room_id: str
    membership: str
    event_id: str
    stream_ordering: int
    sender: str


class RoomMemberStore:
    def __init__(self, db: DatabasePool, events: EventsReadStore) -> None:
        self.db = db
        self.events = events

    async def get_rooms_for_user(self, user_id: str, memberships: tuple[str, ...] = ("join",)) -> list[RoomForUser]:
        """The rooms where the user's current membership is one of `memberships`."""
        if not memberships:
            return []

        def txn_fn(txn: Any) -> list[RoomForUser]:
            clause, args = self.db.engine.in_list_clause("c.membership", memberships)
            txn.execute(
                "SELECT c.room_id, c.membership, c.event_id, e.stream_ordering, e.sender"
                " FROM current_state_events AS c JOIN events AS e USING (event_id)"
                f" WHERE c.type = 'm.room.member' AND c.state_key = ? AND {clause}"
                " ORDER BY e.stream_ordering",
                [user_id, *args],
            )
            return [RoomForUser(r[0], r[1], r[2], int(r[3]), r[4]) for r in txn.fetchall()]

        return await self.db.runInteraction("get_rooms_for_user", txn_fn, db_autocommit=True)

    async def get_users_in_room(self, room_id: str) -> list[str]:
        """The users whose current membership is join."""

        def txn_fn(txn: Any) -> list[str]:
            txn.execute(
                "SELECT state_key FROM current_state_events"
                " WHERE room_id = ? AND type = 'm.room.member' AND membership = 'join' ORDER BY state_key",
                (room_id,),
            )
            return [r[0] for r in txn.fetchall()]

        return await self.db.runInteraction("get_users_in_room", txn_fn, db_autocommit=True)

    async def get_joined_members(self, room_id: str) -> dict[str, dict[str, Optional[str]]]:
        """user id -> {display_name, avatar_url} from each joined member's event."""

        def txn_fn(txn: Any) -> dict[str, dict[str, Optional[str]]]:
            txn.execute(
                "SELECT m.user_id, m.display_name, m.avatar_url FROM current_state_events AS c"
                " JOIN room_memberships AS m USING (event_id)"
                " WHERE c.room_id = ? AND c.type = 'm.room.member' AND c.membership = 'join'",
                (room_id,),
            )
            return {r[0]: {"display_name": r[1], "avatar_url": r[2]} for r in txn.fetchall()}

        return await self.db.runInteraction("get_joined_members", txn_fn, db_autocommit=True)

    async def get_joined_member_counts(self, room_ids: list[str]) -> dict[str, int]:
        if not room_ids:
            return {}

        def txn_fn(txn: Any) -> dict[str, int]:
            clause, args = self.db.engine.in_list_clause("room_id", room_ids)
            txn.execute(
                "SELECT room_id, COUNT(*) FROM current_state_events"
                f" WHERE type = 'm.room.member' AND membership = 'join' AND {clause} GROUP BY room_id",
                args,
            )
            return {r[0]: int(r[1]) for r in txn.fetchall()}

        counts = await self.db.runInteraction("get_joined_member_counts", txn_fn, db_autocommit=True)
        return {room_id: counts.get(room_id, 0) for room_id in room_ids}

    async def get_membership(self, room_id: str, user_id: str) -> Optional[tuple[str, str]]:
        """(membership, event_id) of the user's current member event, or None."""

        def txn_fn(txn: Any) -> Optional[tuple[str, str]]:
            txn.execute(
                "SELECT membership, event_id FROM current_state_events"
                " WHERE room_id = ? AND type = 'm.room.member' AND state_key = ?",
                (room_id, user_id),
            )
            row = txn.fetchone()
            return (row[0], row[1]) if row else None

        return await self.db.runInteraction("get_membership", txn_fn, db_autocommit=True)

    async def forget(self, user_id: str, room_id: str) -> None:
        """Marks the user's membership history in the room as forgotten."""

        def txn_fn(txn: Any) -> None:
            txn.execute(
                "UPDATE room_memberships SET forgotten = 1 WHERE user_id = ? AND room_id = ?", (user_id, room_id)
            )

        await self.db.runInteraction("forget", txn_fn)

    async def did_forget(self, user_id: str, room_id: str) -> bool:
        """Whether the user forgot the room (and has not rejoined it since)."""

        def txn_fn(txn: Any) -> bool:
            txn.execute(
                "SELECT forgotten FROM room_memberships WHERE user_id = ? AND room_id = ?"
                " ORDER BY stream_ordering DESC LIMIT 1",
                (user_id, room_id),
            )
            row = txn.fetchone()
            return bool(row and row[0])

        return await self.db.runInteraction("did_forget", txn_fn, db_autocommit=True)

    async def get_forgotten_rooms_for_user(self, user_id: str) -> set[str]:
        def txn_fn(txn: Any) -> set[str]:
            txn.execute(
                "SELECT room_id FROM room_memberships AS m WHERE user_id = ? AND forgotten = 1"
                " AND stream_ordering = (SELECT MAX(stream_ordering) FROM room_memberships AS m2"
                " WHERE m2.user_id = m.user_id AND m2.room_id = m.room_id)",
                (user_id,),
            )
            return {r[0] for r in txn.fetchall()}

        return await self.db.runInteraction("get_forgotten_rooms_for_user", txn_fn, db_autocommit=True)
