"""The receipts stream: read receipts (m.read, m.read.private), threaded or not.

Writes happen on the stream's writer (`stream_writers.receipts`, default
main). The fully-read marker is not a receipt: it is the room account data
`m.fully_read`, written through the account_data stream. In /sync each
joined room whose receipts changed gets one `m.receipt` ephemeral event
(`{event_id: {receipt_type: {user_id: {ts, thread_id?}}}}`); an initial sync
gets the latest receipts of every joined room. Private receipts reach only
their own user.
"""

import json
from typing import Any, Optional

from synapse.replication.positions import StreamUpdates
from synapse.storage.database import DatabasePool
from synapse.storage.stores.receipts import UNTHREADED, Receipt
from synapse.streams.base import SyncContext, SyncContribution, UserStream

JsonDict = dict[str, Any]
READ = "m.read"
READ_PRIVATE = "m.read.private"
FULLY_READ = "m.fully_read"
RECEIPT_TYPES = (READ, READ_PRIVATE)


def _upsert_receipt_txn(
    txn: Any,
    stream_id: int,
    room_id: str,
    receipt_type: str,
    user_id: str,
    thread_id: str,
    event_id: str,
    data: JsonDict,
) -> None:
    DatabasePool.simple_upsert_txn(
        txn,
        "receipts",
        {"room_id": room_id, "receipt_type": receipt_type, "user_id": user_id, "thread_id": thread_id},
        {"event_id": event_id, "data": json.dumps(data), "stream_id": stream_id},
    )


def receipt_content(receipts: list[Receipt], viewer: str) -> JsonDict:
    """The `m.receipt` content of `receipts` as `viewer` may see it (later
    receipts of the same user and type on one event win)."""
    content: JsonDict = {}
    for r in receipts:
        if r.receipt_type == READ_PRIVATE and r.user_id != viewer:
            continue
        data = dict(r.data)
        if r.thread_id != UNTHREADED:
            data["thread_id"] = r.thread_id
        content.setdefault(r.event_id, {}).setdefault(r.receipt_type, {})[r.user_id] = data
    return content


class ReceiptsStream(UserStream):
    NAME = "receipts"
    WRITE_METHODS = ("set_receipt",)

    # -- writes (on the writer only) -------------------------------------------
    async def set_receipt(
        self, room_id: str, receipt_type: str, user_id: str, event_id: str, thread_id: str = UNTHREADED
    ) -> int:
        data = {"ts": self._hs.clock.time_msec()}
        return await self._write(
            "set_receipt",
            _upsert_receipt_txn,
            room_id,
            receipt_type,
            user_id,
            thread_id,
            event_id,
            data,
            rooms=[room_id],
        )

    # -- readers ---------------------------------------------------------------
    async def read_updates(self, instance: str, from_pos: int, to_pos: int) -> Optional[StreamUpdates]:
        rooms = await self._hs.stores.receipts.get_rooms_changed_between(from_pos, to_pos)
        return StreamUpdates(rooms=rooms)

    async def sync(self, ctx: SyncContext) -> SyncContribution:
        if ctx.to_pos <= ctx.from_pos or not ctx.joined_room_ids:
            return SyncContribution()
        rooms = self._changed_since(ctx.joined_room_ids, ctx.from_pos) if ctx.from_pos > 0 else None
        if rooms is not None and not rooms:
            return SyncContribution()
        receipts = await self._hs.stores.receipts.get_receipts_for_rooms(
            ctx.joined_room_ids if rooms is None else rooms, ctx.from_pos, ctx.to_pos
        )
        by_room: dict[str, list[Receipt]] = {}
        for r in receipts:
            by_room.setdefault(r.room_id, []).append(r)
        contribution = SyncContribution()
        for room_id, room_receipts in by_room.items():
            content = receipt_content(room_receipts, ctx.user_id)
            if not content:
                continue
            event = {"type": "m.receipt", "room_id": room_id, "content": content}
            if ctx.filter.ephemeral_filter.filter([event]):
                contribution.rooms[room_id] = {"ephemeral": {"events": [{"type": "m.receipt", "content": content}]}}
        return contribution
