"""Reads of read receipts; writes are the receipts stream's
(synapse/streams/receipts.py). The table keeps the latest receipt per
(room, receipt type, user, thread); thread '' is an unthreaded receipt."""

import json
from typing import Any, Collection, Optional

import attrs

from synapse.storage.database import SELECT_MANY_BATCH_SIZE, DatabasePool

JsonDict = dict[str, Any]
UNTHREADED = ""


@attrs.frozen
class Receipt:
    room_id: str
    receipt_type: str
    user_id: str
    thread_id: str  # UNTHREADED, "main" or a thread root event id
    event_id: str
    data: JsonDict


class ReceiptsStore:
    def __init__(self, db: DatabasePool) -> None:
        self._db = db

    async def get_receipt(
        self, room_id: str, receipt_type: str, user_id: str, thread_id: str = UNTHREADED
    ) -> Optional[Receipt]:
        row = await self._db.simple_select_one(
            "receipts",
            {"room_id": room_id, "receipt_type": receipt_type, "user_id": user_id, "thread_id": thread_id},
            ("event_id", "data"),
            allow_none=True,
            desc="get_receipt",
        )
        if row is None:
            return None
        return Receipt(room_id, receipt_type, user_id, thread_id, row["event_id"], json.loads(row["data"]))

    async def get_receipts_for_rooms(self, room_ids: Collection[str], from_pos: int, to_pos: int) -> list[Receipt]:
        """Receipts of `room_ids` last written in (from_pos, to_pos]; with
        from_pos 0, the latest receipts of those rooms."""

        def txn(txn: Any) -> list[Receipt]:
            rooms = sorted(room_ids)
            receipts: list[Receipt] = []
            for start in range(0, len(rooms), SELECT_MANY_BATCH_SIZE):
                in_sql, in_args = txn.database_engine.in_list_clause(
                    "room_id", rooms[start : start + SELECT_MANY_BATCH_SIZE]
                )
                txn.execute(
                    "SELECT room_id, receipt_type, user_id, thread_id, event_id, data FROM receipts"
                    f" WHERE stream_id > ? AND stream_id <= ? AND {in_sql} ORDER BY stream_id",
                    [from_pos, to_pos, *in_args],
                )
                receipts += [
                    Receipt(room_id, rtype, user_id, thread_id, event_id, json.loads(data))
                    for room_id, rtype, user_id, thread_id, event_id, data in txn.fetchall()
                ]
            return receipts

        return await self._db.runInteraction("get_receipts_for_rooms", txn)

    async def get_rooms_changed_between(self, from_pos: int, to_pos: int) -> list[str]:
        def txn(txn: Any) -> list[str]:
            txn.execute(
                "SELECT DISTINCT room_id FROM receipts WHERE stream_id > ? AND stream_id <= ?", (from_pos, to_pos)
            )
            return [row[0] for row in txn.fetchall()]

        return await self._db.runInteraction("receipts_rooms_changed", txn)
