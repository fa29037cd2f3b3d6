"""Reads of typing notifications; writes are the typing stream's
(synapse/streams/typing.py).

A user types in a room while their row's `expires_at_ms` lies ahead; the
writer moves it to 0 when they stop or their timeout passes, so readers on
any process see the same set without asking the writer.
"""

from typing import Any, Collection

from synapse.storage.database import SELECT_MANY_BATCH_SIZE, DatabasePool


class TypingStore:
    def __init__(self, db: DatabasePool) -> None:
        self._db = db

    async def get_typing_users(self, room_ids: Collection[str], now_ms: int) -> dict[str, list[str]]:
        """The users typing at `now_ms` in each of `room_ids` (sorted; every
        room present, with [] when nobody types)."""

        def txn(txn: Any) -> dict[str, list[str]]:
            rooms = list(room_ids)
            typing: dict[str, list[str]] = {room_id: [] for room_id in rooms}
            for start in range(0, len(rooms), SELECT_MANY_BATCH_SIZE):
                in_sql, in_args = txn.database_engine.in_list_clause(
                    "room_id", rooms[start : start + SELECT_MANY_BATCH_SIZE]
                )
                txn.execute(
                    f"SELECT room_id, user_id FROM typing_state WHERE expires_at_ms > ? AND {in_sql}",
                    [now_ms, *in_args],
                )
                for room_id, user_id in txn.fetchall():
                    typing[room_id].append(user_id)
            return {room_id: sorted(users) for room_id, users in typing.items()}

        return await self._db.runInteraction("get_typing_users", txn, db_autocommit=True)

    async def get_rooms_changed_between(self, from_pos: int, to_pos: int) -> list[str]:
        """Rooms whose typing set changed in (from_pos, to_pos]."""

        def txn(txn: Any) -> list[str]:
            txn.execute(
                "SELECT DISTINCT room_id FROM typing_state WHERE stream_id > ? AND stream_id <= ?", (from_pos, to_pos)
            )
            return [row[0] for row in txn.fetchall()]

        return await self._db.runInteraction("typing_rooms_changed", txn, db_autocommit=True)
