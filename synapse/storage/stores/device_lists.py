"""Reads of the device_lists stream (its writes are in
synapse/streams/device_lists.py) and the membership questions that turn
changes into a user's `changed` and `left` lists, each one query whatever
the number of rooms."""

from typing import Any, Collection, Iterable

from synapse.storage.database import DatabasePool

# rooms per IN list, so that a user in thousands of rooms stays within
# the engines' parameter limits
_BATCH = 500


def _batches(items: Collection[str]) -> Iterable[list[str]]:
    ordered = sorted(items)
    for i in range(0, len(ordered), _BATCH):
        yield ordered[i : i + _BATCH]


def _joined_txn(txn: Any, column: str, values: Collection[str]) -> list[tuple[str, str]]:
    """(room_id, user_id) of current joins whose `column` is one of `values`."""
    pairs: list[tuple[str, str]] = []
    for batch in _batches(values):
        clause, args = txn.database_engine.in_list_clause(column, batch)
        txn.execute(
            "SELECT room_id, state_key FROM current_state_events"
            f" WHERE type = 'm.room.member' AND membership = 'join' AND {clause}",
            args,
        )
        pairs += [(room_id, user_id) for room_id, user_id in txn]
    return pairs


class DeviceListsStore:
    def __init__(self, db: DatabasePool) -> None:
        self._db = db

    async def get_users_changed_between(self, from_pos: int, to_pos: int) -> set[str]:
        """Users with a device list change at positions in (from_pos, to_pos]."""

        def txn_fn(txn: Any) -> set[str]:
            txn.execute(
                "SELECT DISTINCT user_id FROM device_lists_changes WHERE stream_id > ? AND stream_id <= ?",
                (from_pos, to_pos),
            )
            return {row[0] for row in txn}

        return await self._db.runInteraction("get_device_list_changes", txn_fn, db_autocommit=True)

    async def get_users_sharing_a_room(self, user_id: str, candidates: Collection[str]) -> set[str]:
        """Those of `candidates` joined to a room `user_id` is joined to."""

        def txn_fn(txn: Any) -> set[str]:
            sharing: set[str] = set()
            for batch in _batches(candidates):
                clause, args = txn.database_engine.in_list_clause("other.state_key", batch)
                txn.execute(
                    "SELECT DISTINCT other.state_key FROM current_state_events AS mine"
                    " JOIN current_state_events AS other ON other.room_id = mine.room_id"
                    " WHERE mine.type = 'm.room.member' AND mine.state_key = ? AND mine.membership = 'join'"
                    f" AND other.type = 'm.room.member' AND other.membership = 'join' AND {clause}",
                    [user_id, *args],
                )
                sharing.update(row[0] for row in txn)
            return sharing

        return await self._db.runInteraction("get_users_sharing_a_room", txn_fn, db_autocommit=True)

    async def get_joined_rooms_of_users(self, user_ids: Collection[str]) -> set[str]:
        """Rooms where any of the users is joined (whose waiters a change wakes)."""
        pairs = await self._db.runInteraction("get_joined_rooms_of_users", _joined_txn, "state_key", user_ids)
        return {room_id for room_id, _ in pairs}

    async def get_joined_members_of_rooms(self, room_ids: Collection[str]) -> dict[str, set[str]]:
        """room -> users currently joined to it, for each of the rooms."""
        members: dict[str, set[str]] = {room_id: set() for room_id in room_ids}
        for room_id, user_id in await self._db.runInteraction(
            "get_joined_members_of_rooms", _joined_txn, "room_id", room_ids
        ):
            members[room_id].add(user_id)
        return members

    async def get_membership_changes_in_rooms(
        self, room_ids: Collection[str], from_pos: int, to_pos: int
    ) -> list[tuple[str, str, str]]:
        """(room_id, user_id, membership) of every membership event in the
        rooms at events positions in (from_pos, to_pos], oldest first."""

        def txn_fn(txn: Any) -> list[tuple[str, str, str]]:
            rows: list[tuple[int, str, str, str]] = []
            for batch in _batches(room_ids):
                clause, args = txn.database_engine.in_list_clause("room_id", batch)
                txn.execute(
                    "SELECT stream_ordering, room_id, user_id, membership FROM room_memberships"
                    f" WHERE stream_ordering > ? AND stream_ordering <= ? AND {clause}",
                    [from_pos, to_pos, *args],
                )
                rows += [(int(s), r, u, m) for s, r, u, m in txn]
            rows.sort()
            return [(r, u, m) for _, r, u, m in rows]

        return await self._db.runInteraction("get_membership_changes_in_rooms", txn_fn, db_autocommit=True)
