"""The typing stream: who is typing in which room.

Writes happen on the stream's writer (`stream_writers.typing`, default
main). The state is the `typing_state` table rather than the writer's
memory because every process serves /sync: a reader on another process
learns from the stream which rooms moved and re-queries their typing set.
Typing stops at its timeout (default 30 s, at most 120 s): the writer
schedules a write that stops it then, which also wakes the room's
long-polls; until that write lands, readers already leave expired rows out.
In /sync each joined room whose typing set changed gets an `m.typing`
ephemeral event with the full current list.
"""

import logging
from typing import Any, Optional

from twisted.internet import defer
from twisted.internet.interfaces import IDelayedCall

from synapse.replication.positions import StreamUpdates
from synapse.streams.base import SyncContext, SyncContribution, UserStream

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT_MS = 30_000
MAX_TIMEOUT_MS = 120_000


def _set_typing_txn(txn: Any, stream_id: int, room_id: str, user_id: str, expires_at_ms: int) -> None:
    txn.execute(
        "INSERT INTO typing_state (room_id, user_id, expires_at_ms, stream_id) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (room_id, user_id) DO UPDATE"
        " SET expires_at_ms = excluded.expires_at_ms, stream_id = excluded.stream_id",
        (room_id, user_id, expires_at_ms, stream_id),
    )


def _expire_txn(txn: Any, stream_id: int, room_id: str, user_id: str, expires_at_ms: int) -> None:
    """Stops the typing that expires at `expires_at_ms`, unless renewed since."""
    txn.execute(
        "UPDATE typing_state SET expires_at_ms = 0, stream_id = ?"
        " WHERE room_id = ? AND user_id = ? AND expires_at_ms = ?",
        (stream_id, room_id, user_id, expires_at_ms),
    )


class TypingStream(UserStream):
    NAME = "typing"
    WRITE_METHODS = ("set_typing",)

    def __init__(self, hs: Any) -> None:
        super().__init__(hs)
        # (room_id, user_id) -> the scheduled stop of their current typing
        self._expiries: dict[tuple[str, str], IDelayedCall] = {}

    # -- writes (on the writer only) -------------------------------------------
    async def set_typing(self, room_id: str, user_id: str, typing: bool, timeout_ms: int = DEFAULT_TIMEOUT_MS) -> int:
        timeout_ms = max(0, min(timeout_ms, MAX_TIMEOUT_MS))
        expires_at_ms = self._hs.clock.time_msec() + timeout_ms if typing else 0
        position = await self._write("set_typing", _set_typing_txn, room_id, user_id, expires_at_ms, rooms=[room_id])
        pending = self._expiries.pop((room_id, user_id), None)
        if pending is not None and pending.active():
            pending.cancel()
        if typing:
            self._expiries[(room_id, user_id)] = self._hs.clock.call_later(
                timeout_ms / 1000, self._on_expiry, room_id, user_id, expires_at_ms
            )
        return position

    def _on_expiry(self, room_id: str, user_id: str, expires_at_ms: int) -> None:
        self._expiries.pop((room_id, user_id), None)
        d = defer.ensureDeferred(
            self._write("expire_typing", _expire_txn, room_id, user_id, expires_at_ms, rooms=[room_id])
        )
        d.addErrback(lambda f: logger.error("Failed to expire typing of %s in %s: %s", user_id, room_id, f.value))

    # -- readers ---------------------------------------------------------------
    async def read_updates(self, instance: str, from_pos: int, to_pos: int) -> Optional[StreamUpdates]:
        rooms = await self._hs.stores.typing.get_rooms_changed_between(from_pos, to_pos)
        return StreamUpdates(rooms=rooms)

    async def sync(self, ctx: SyncContext) -> SyncContribution:
        if ctx.to_pos <= ctx.from_pos:
            return SyncContribution()
        store = self._hs.stores.typing
        joined = set(ctx.joined_room_ids)
        if ctx.from_pos == 0:
            rooms = sorted(joined)
        else:
            changed = self._changed_since(joined, ctx.from_pos)
            if changed is None:
                changed = set(await store.get_rooms_changed_between(ctx.from_pos, ctx.to_pos)) & joined
            rooms = sorted(changed)
        if not rooms:
            return SyncContribution()
        typing = await store.get_typing_users(rooms, self._hs.clock.time_msec())
        contribution = SyncContribution()
        for room_id, user_ids in typing.items():
            # an initial sync only tells of rooms where someone types
            if ctx.from_pos == 0 and not user_ids:
                continue
            event = {"type": "m.typing", "room_id": room_id, "content": {"user_ids": user_ids}}
            if ctx.filter.ephemeral_filter.filter([event]):
                contribution.rooms[room_id] = {
                    "ephemeral": {"events": [{"type": "m.typing", "content": {"user_ids": user_ids}}]}
                }
        return contribution
