"""The account_data stream: global and per-room account data, and tags.

Writes happen on the stream's writer (`stream_writers.account_data`,
default main); other processes reach it through RemoteStreamWriter. Tags
are room account data of type `m.tag` (`{"tags": {tag: {...}}}`), edited
read-modify-write under a per-user lock on the writer, so two tag changes
never lose one another. In /sync, changed global data goes to the
top-level `account_data`, changed room data to the joined room's
`account_data`.
"""

import json
from typing import Any, Optional

from synapse.replication.positions import StreamUpdates
from synapse.storage.database import DatabasePool
from synapse.storage.stores.account_data import GLOBAL
from synapse.streams.base import SyncContext, SyncContribution, UserStream
from synapse.util.linearizer import KeyedLinearizer

JsonDict = dict[str, Any]
TAG_TYPE = "m.tag"


def _upsert_txn(txn: Any, stream_id: int, user_id: str, room_id: str, data_type: str, content: JsonDict) -> None:
    DatabasePool.simple_upsert_txn(
        txn,
        "account_data",
        {"user_id": user_id, "room_id": room_id, "account_data_type": data_type},
        {"stream_id": stream_id, "content": json.dumps(content)},
    )


class AccountDataStream(UserStream):
    NAME = "account_data"
    WRITE_METHODS = ("set_account_data", "add_tag", "remove_tag")

    def __init__(self, hs: Any) -> None:
        super().__init__(hs)
        self._tag_lock = KeyedLinearizer()

    # -- writes (on the writer only) -------------------------------------------
    async def set_account_data(self, user_id: str, data_type: str, content: JsonDict, room_id: str = GLOBAL) -> int:
        return await self._write("set_account_data", _upsert_txn, user_id, room_id, data_type, content, users=[user_id])

    async def add_tag(self, user_id: str, room_id: str, tag: str, content: JsonDict) -> int:
        async with self._tag_lock.queue(user_id):
            tags = await self._current_tags(user_id, room_id)
            tags[tag] = content
            return await self.set_account_data(user_id, TAG_TYPE, {"tags": tags}, room_id)

    async def remove_tag(self, user_id: str, room_id: str, tag: str) -> int:
        async with self._tag_lock.queue(user_id):
            tags = await self._current_tags(user_id, room_id)
            tags.pop(tag, None)
            return await self.set_account_data(user_id, TAG_TYPE, {"tags": tags}, room_id)

    async def _current_tags(self, user_id: str, room_id: str) -> JsonDict:
        current = await self._hs.stores.account_data.get_account_data(user_id, TAG_TYPE, room_id)
        tags = (current or {}).get("tags")
        return dict(tags) if isinstance(tags, dict) else {}

    # -- readers ---------------------------------------------------------------
    async def read_updates(self, instance: str, from_pos: int, to_pos: int) -> Optional[StreamUpdates]:
        users = await self._hs.stores.account_data.get_users_changed_between(from_pos, to_pos)
        return StreamUpdates(users=users)

    async def sync(self, ctx: SyncContext) -> SyncContribution:
        if ctx.to_pos <= ctx.from_pos or (
            ctx.from_pos > 0 and self._changed_since([ctx.user_id], ctx.from_pos) == set()
        ):
            return SyncContribution()
        global_data, room_data = await self._hs.stores.account_data.get_changes_for_user(
            ctx.user_id, ctx.from_pos, ctx.to_pos
        )
        contribution = SyncContribution()
        global_events = [{"type": t, "content": c} for t, c in sorted(global_data.items())]
        global_events = ctx.filter.account_data_filter.filter(global_events)
        if global_events:
            contribution.top_level["account_data"] = {"events": global_events}
        joined = set(ctx.joined_room_ids)
        for room_id, by_type in room_data.items():
            if room_id not in joined:
                continue
            events = ctx.filter.room_account_data_filter.filter(
                [{"type": t, "content": c, "room_id": room_id} for t, c in sorted(by_type.items())]
            )
            if events:
                contribution.rooms[room_id] = {
                    "account_data": {"events": [{"type": e["type"], "content": e["content"]} for e in events]}
                }
        return contribution
