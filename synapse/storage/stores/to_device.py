"""Reads of device inboxes (send-to-device messages); writes are the
to_device stream's (synapse/streams/to_device.py)."""

import json
from typing import Any

import attrs

from synapse.storage.database import DatabasePool

JsonDict = dict[str, Any]


@attrs.frozen
class InboxMessage:
    stream_id: int
    # {"sender", "type", "content"}: what /sync hands the device
    message: JsonDict


class ToDeviceStore:
    def __init__(self, db: DatabasePool) -> None:
        self._db = db

    async def get_messages_for_device(
        self, user_id: str, device_id: str, from_pos: int, to_pos: int, limit: int
    ) -> list[InboxMessage]:
        """The device's messages in (from_pos, to_pos], oldest first, at most `limit`."""

        def txn(txn: Any) -> list[tuple[int, str]]:
            txn.execute(
                "SELECT stream_id, message_json FROM device_inbox"
                " WHERE user_id = ? AND device_id = ? AND stream_id > ? AND stream_id <= ?"
                " ORDER BY stream_id LIMIT ?",
                (user_id, device_id, from_pos, to_pos, limit),
            )
            return txn.fetchall()

        rows = await self._db.runInteraction("get_messages_for_device", txn)
        return [InboxMessage(stream_id, json.loads(raw)) for stream_id, raw in rows]

    async def has_messages_up_to(self, user_id: str, device_id: str, up_to: int) -> bool:
        """Whether the device's inbox holds anything at or before `up_to`
        (so that a sync only writes a deletion when there is one to make)."""

        def txn(txn: Any) -> bool:
            txn.execute(
                "SELECT 1 FROM device_inbox WHERE user_id = ? AND device_id = ? AND stream_id <= ? LIMIT 1",
                (user_id, device_id, up_to),
            )
            return txn.fetchone() is not None

        return await self._db.runInteraction("has_messages_up_to", txn)

    async def get_users_with_messages_between(self, from_pos: int, to_pos: int) -> list[str]:
        """Recipients of the messages written in (from_pos, to_pos] (to wake their syncs)."""

        def txn(txn: Any) -> list[str]:
            txn.execute(
                "SELECT DISTINCT user_id FROM device_inbox WHERE stream_id > ? AND stream_id <= ?", (from_pos, to_pos)
            )
            return [row[0] for row in txn.fetchall()]

        return await self._db.runInteraction("to_device_users_changed", txn)
