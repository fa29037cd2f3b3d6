"""Reads of presence; writes are the presence stream's
(synapse/streams/presence.py).

"Peers" of a user are the users joined to a room the user is joined to,
as of current state; presence is shared with them only.
"""

from typing import Any, Collection, Optional

import attrs

from synapse.storage.database import DatabasePool

OFFLINE = "offline"

# the syncing user's peers (bound twice: the user, for the room and self)
_PEERS_SQL = (
    "p.user_id = ? OR p.user_id IN ("
    " SELECT o.state_key FROM current_state_events AS m"
    " JOIN current_state_events AS o ON o.room_id = m.room_id"
    " WHERE m.type = 'm.room.member' AND m.state_key = ? AND m.membership = 'join'"
    " AND o.type = 'm.room.member' AND o.membership = 'join')"
)
_FIELDS = ["user_id", "state", "status_msg", "last_active_ts", "currently_active"]
_COLUMNS = ", ".join(f"p.{field}" for field in _FIELDS)
_JOINED = {"type": "m.room.member", "membership": "join"}


@attrs.frozen
class UserPresence:
    """One user's presence as stored (offline with no activity when no row)."""

    user_id: str
    state: str = OFFLINE
    status_msg: Optional[str] = None
    # ms since the epoch of the last activity; 0 when never active
    last_active_ts: int = 0
    currently_active: bool = False


def _rows_of(rows: list[tuple]) -> list[UserPresence]:
    return [UserPresence(r[0], r[1], r[2], int(r[3]), bool(r[4])) for r in rows]


def _rows(txn: Any) -> list[UserPresence]:
    return _rows_of(txn.fetchall())


class PresenceStore:
    def __init__(self, db: DatabasePool) -> None:
        self._db = db

    async def get_presence(self, user_id: str) -> UserPresence:
        def txn(txn: Any) -> UserPresence:
            txn.execute(f"SELECT {_COLUMNS} FROM presence_state AS p WHERE p.user_id = ?", (user_id,))
            rows = _rows(txn)
            return rows[0] if rows else UserPresence(user_id)

        return await self._db.runInteraction("get_presence", txn)

    async def get_not_offline(self) -> list[UserPresence]:
        """Every user whose presence is not offline (the writer's timeouts start here)."""

        def txn(txn: Any) -> list[UserPresence]:
            txn.execute(f"SELECT {_COLUMNS} FROM presence_state AS p WHERE p.state != ?", (OFFLINE,))
            return _rows(txn)

        return await self._db.runInteraction("get_presence_not_offline", txn)

    async def get_peers_presence(self, user_id: str) -> list[UserPresence]:
        """For an initial sync: the user's own presence and that of their
        peers who are not offline."""

        def txn(txn: Any) -> list[UserPresence]:
            txn.execute(
                f"SELECT {_COLUMNS} FROM presence_state AS p WHERE ({_PEERS_SQL})"
                " AND (p.state != ? OR p.user_id = ?) ORDER BY p.user_id",
                (user_id, user_id, OFFLINE, user_id),
            )
            return _rows(txn)

        return await self._db.runInteraction("get_peers_presence", txn)

    async def get_peers_changes(self, user_id: str, from_pos: int, to_pos: int) -> list[UserPresence]:
        """The user's and their peers' presence that changed in (from_pos, to_pos]."""

        def txn(txn: Any) -> list[UserPresence]:
            txn.execute(
                f"SELECT {_COLUMNS} FROM presence_state AS p"
                f" WHERE p.stream_id > ? AND p.stream_id <= ? AND ({_PEERS_SQL}) ORDER BY p.user_id",
                (from_pos, to_pos, user_id, user_id),
            )
            return _rows(txn)

        return await self._db.runInteraction("get_peers_presence_changes", txn)

    async def get_new_peers_presence(
        self, user_id: str, joined_room_ids: Collection[str], from_pos: int, to_pos: int
    ) -> list[UserPresence]:
        """Presence (not offline) of those who became the user's peers through
        joins in (from_pos, to_pos] of the events stream: every member of a
        room the user joined, and whoever joined a room the user is in."""

        def txn(txn: Any) -> list[UserPresence]:
            txn.execute(
                "SELECT e.room_id, e.state_key FROM events AS e JOIN room_memberships AS r USING (event_id)"
                " WHERE e.stream_ordering > ? AND e.stream_ordering <= ?"
                " AND e.type = 'm.room.member' AND r.membership = 'join'",
                (from_pos, to_pos),
            )
            joined = set(joined_room_ids)
            joins = [(room_id, joiner) for room_id, joiner in txn.fetchall() if room_id in joined]
            peers = {joiner for _, joiner in joins}
            rooms_joined = {room_id for room_id, joiner in joins if joiner == user_id}
            members = DatabasePool.simple_select_many_txn(
                txn, "current_state_events", "room_id", sorted(rooms_joined), ["state_key"], _JOINED
            )
            peers.update(row["state_key"] for row in members)
            peers.discard(user_id)
            rows = DatabasePool.simple_select_many_txn(txn, "presence_state", "user_id", sorted(peers), _FIELDS)
            found = _rows_of([tuple(r[f] for f in _FIELDS) for r in rows])
            return [p for p in found if p.state != OFFLINE]

        return await self._db.runInteraction("get_new_peers_presence", txn)

    async def shares_a_room(self, user_id: str, other_id: str) -> bool:
        def txn(txn: Any) -> bool:
            txn.execute(
                "SELECT 1 FROM current_state_events AS m JOIN current_state_events AS o ON o.room_id = m.room_id"
                " WHERE m.type = 'm.room.member' AND m.state_key = ? AND m.membership = 'join'"
                " AND o.type = 'm.room.member' AND o.state_key = ? AND o.membership = 'join' LIMIT 1",
                (user_id, other_id),
            )
            return txn.fetchone() is not None

        return await self._db.runInteraction("presence_shares_a_room", txn)

    async def get_users_changed_between(self, from_pos: int, to_pos: int) -> list[str]:
        def txn(txn: Any) -> list[str]:
            txn.execute(
                "SELECT user_id FROM presence_state WHERE stream_id > ? AND stream_id <= ?", (from_pos, to_pos)
            )
            return [row[0] for row in txn.fetchall()]

        return await self._db.runInteraction("presence_users_changed", txn)

    async def get_joined_rooms_of_users(self, user_ids: Collection[str]) -> set[str]:
        """The rooms any of `user_ids` is joined to: whose long-polls a change wakes."""

        def txn(txn: Any) -> set[str]:
            rows = DatabasePool.simple_select_many_txn(
                txn, "current_state_events", "state_key", list(user_ids), ["room_id"], _JOINED
            )
            return {row["room_id"] for row in rows}

        return await self._db.runInteraction("presence_joined_rooms_of_users", txn)
