"""Rooms this server knows: their version, creator and directory visibility.

The `rooms` row is written by the event persister in the same transaction
as the room's create event; this store reads it and flips `is_public`
(the room directory's visibility, which is not part of the room's state).
"""

from typing import Any, Optional

from synapse.api.errors import NotFoundError
from synapse.events.room_versions import KNOWN_ROOM_VERSIONS, RoomVersion
from synapse.storage.database import DatabasePool


class RoomStore:
    def __init__(self, db: DatabasePool) -> None:
        self.db = db
        # room versions never change, so they are cached forever
        self._versions: dict[str, RoomVersion] = {}

    async def get_room(self, room_id: str) -> Optional[dict[str, Any]]:
        def txn_fn(txn: Any) -> Optional[tuple]:
            txn.execute("SELECT room_id, room_version, creator, is_public FROM rooms WHERE room_id = ?", (room_id,))
            return txn.fetchone()

        row = await self.db.runInteraction("get_room", txn_fn)
        if row is None:
            return None
        return {"room_id": row[0], "room_version": row[1], "creator": row[2], "is_public": bool(row[3])}

    async def get_room_version(self, room_id: str) -> RoomVersion:
        """The room's version; 404 M_NOT_FOUND if this server does not know the room."""
        version = self._versions.get(room_id)
        if version is not None:
            return version
        room = await self.get_room(room_id)
        if room is None:
            raise NotFoundError(f"Unknown room {room_id}")
        version = KNOWN_ROOM_VERSIONS[room["room_version"]]
        self._versions[room_id] = version
        return version

    async def set_room_is_public(self, room_id: str, is_public: bool) -> None:
        def txn_fn(txn: Any) -> None:
            txn.execute("UPDATE rooms SET is_public = ? WHERE room_id = ?", (is_public, room_id))

        await self.db.runInteraction("set_room_is_public", txn_fn)

    async def get_public_room_ids(self) -> list[str]:
        def txn_fn(txn: Any) -> list[str]:
            txn.execute("SELECT room_id FROM rooms WHERE is_public = ? ORDER BY room_id", (True,))
            return [r[0] for r in txn.fetchall()]

        return await self.db.runInteraction("get_public_room_ids", txn_fn)
