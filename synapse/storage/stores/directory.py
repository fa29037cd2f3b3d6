"""Room aliases: the local alias -> room id mapping (the `room_aliases` table)."""

from typing import Any, Optional

from synapse.storage.database import DatabasePool


class DirectoryStore:
    def __init__(self, db: DatabasePool) -> None:
        self.db = db

    async def create_room_alias(self, room_alias: str, room_id: str, creator: Optional[str]) -> bool:
        """Adds the alias; False (and no change) if it is already taken."""

        def txn_fn(txn: Any) -> bool:
            txn.execute(
                "INSERT INTO room_aliases (room_alias, room_id, creator) VALUES (?, ?, ?)"
                " ON CONFLICT (room_alias) DO NOTHING",
                (room_alias, room_id, creator),
            )
            return txn.rowcount == 1

        return await self.db.runInteraction("create_room_alias", txn_fn)

    async def get_association(self, room_alias: str) -> Optional[dict[str, Any]]:
        """{room_id, creator} for the alias, or None."""

        def txn_fn(txn: Any) -> Optional[tuple]:
            txn.execute("SELECT room_id, creator FROM room_aliases WHERE room_alias = ?", (room_alias,))
            return txn.fetchone()

        row = await self.db.runInteraction("get_association", txn_fn)
        return {"room_id": row[0], "creator": row[1]} if row else None

    async def delete_room_alias(self, room_alias: str) -> Optional[str]:
        """Removes the alias; the room id it pointed to, or None if there was none."""

        def txn_fn(txn: Any) -> Optional[str]:
            txn.execute("SELECT room_id FROM room_aliases WHERE room_alias = ?", (room_alias,))
            row = txn.fetchone()
            if row is None:
                return None
            txn.execute("DELETE FROM room_aliases WHERE room_alias = ?", (room_alias,))
            return row[0]

        return await self.db.runInteraction("delete_room_alias", txn_fn)

    async def get_aliases_for_room(self, room_id: str) -> list[str]:
        def txn_fn(txn: Any) -> list[str]:
            txn.execute("SELECT room_alias FROM room_aliases WHERE room_id = ? ORDER BY room_alias", (room_id,))
            return [r[0] for r in txn.fetchall()]

        return await self.db.runInteraction("get_aliases_for_room", txn_fn)
