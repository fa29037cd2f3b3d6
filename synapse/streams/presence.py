"""The presence stream: online / unavailable / offline, status messages,
last activity.

Everything that changes presence runs on the stream's writer
(`stream_writers.presence`, default main), because the transitions are
read-modify-write of one user's state and the timeouts need one clock:
PUT /presence (`set_presence`), activity such as sending an event
(`bump_active`), and the reports of processes serving /sync
(`user_syncing`, `user_stopped_syncing`, `refresh_syncing`, sent only on
transitions and periodically: synapse/handlers/presence.py). The writer
applies the timeouts every `check_ms` (synapse/streams/presence_state.py).

State lives in `presence_state`; every process reads it for /sync and GET.
A change clients must hear of gets a stream position and wakes the
long-polls of the user and of every room they are joined to, so their
peers see it; a bare refresh of the activity time is written without one
(last_active_ago is computed when served). The writer keeps the users who
are not offline in memory, to apply timeouts without scanning the table.

In /sync, the top-level `presence` holds m.presence events: on an initial
sync the user's own presence and their peers' who are not offline; then
the user's and peers' changes in (since, now], and the presence of new
peers (joins in the same range of the events stream). Nothing when
presence is disabled.
"""

import logging
from typing import Any, Callable, Optional

import attrs

from synapse.replication.positions import StreamUpdates
from synapse.storage.database import DatabasePool
from synapse.storage.stores.presence import OFFLINE, UserPresence
from synapse.streams.base import SyncContext, SyncContribution, UserStream
from synapse.streams.presence_state import (
    SyncingUsers,
    on_activity,
    on_set,
    on_sync_start,
    on_timeout,
    presence_content,
)
from synapse.util.linearizer import KeyedLinearizer

logger = logging.getLogger(__name__)


def _upsert_txn(txn: Any, stream_id: int, presence: UserPresence) -> None:
    DatabasePool.simple_upsert_txn(
        txn,
        "presence_state",
        {"user_id": presence.user_id},
        {
            "state": presence.state,
            "status_msg": presence.status_msg,
            "last_active_ts": presence.last_active_ts,
            "currently_active": int(presence.currently_active),
            "stream_id": stream_id,
        },
    )


def _touch_txn(txn: Any, user_id: str, last_active_ts: int) -> None:
    txn.execute("UPDATE presence_state SET last_active_ts = ? WHERE user_id = ?", (last_active_ts, user_id))


class PresenceStream(UserStream):
    NAME = "presence"
    WRITE_METHODS = ("set_presence", "bump_active", "user_syncing", "user_stopped_syncing", "refresh_syncing")

    def __init__(self, hs: Any) -> None:
        super().__init__(hs)
        self._timeouts = hs.config.presence.timeouts
        self._user_lock = KeyedLinearizer()
        self._syncing = SyncingUsers(self._timeouts, hs.clock.time_msec())
        # the writer's users who are not offline; loaded on first use
        self._not_offline: Optional[dict[str, UserPresence]] = None

    # -- writes (on the writer only) -------------------------------------------
    async def set_presence(self, user_id: str, presence: str, status_msg: Optional[str] = None) -> int:
        return await self._change(user_id, lambda current: on_set(current, presence, status_msg, self._now()))

    async def bump_active(self, user_id: str) -> int:
        return await self._change(user_id, lambda current: on_activity(current, self._now()))

    async def user_syncing(self, instance: str, user_id: str, set_presence: str) -> int:
        self._syncing.start(instance, user_id, self._now())
        return await self._change(user_id, lambda current: on_sync_start(current, set_presence, self._now()))

    async def user_stopped_syncing(self, instance: str, user_id: str) -> int:
        self._syncing.stop(instance, user_id, self._now())
        return self._position()

    async def refresh_syncing(self, instance: str, users: dict[str, str]) -> int:
        """`users`: every user `instance` serves now, with their set_presence."""
        position = self._position()
        for user_id in sorted(self._syncing.refresh(instance, users, self._now())):
            set_presence = users[user_id]
            position = max(
                position,
                await self._change(user_id, lambda current: on_sync_start(current, set_presence, self._now())),
            )
        return position

    async def check_timeouts(self) -> None:
        """Applies the timeouts to every user who is not offline (run every
        `check_ms` on the writer when presence is tracked)."""
        try:
            now = self._now()
            self._syncing.expire(now)
            for user_id, presence in list((await self._load()).items()):
                if self._timed_out(presence, now) != presence:
                    await self._change(user_id, lambda current: self._timed_out(current, self._now()))
        except Exception:
            logger.exception("Applying presence timeouts failed")

    def _timed_out(self, presence: UserPresence, now: int) -> UserPresence:
        user_id = presence.user_id
        syncing = self._syncing
        return on_timeout(presence, now, syncing.is_syncing(user_id), syncing.last_sync(user_id), self._timeouts)

    async def _change(self, user_id: str, transition: Callable[[UserPresence], UserPresence]) -> int:
        """Applies `transition` to the user's current presence and stores
        the result; returns the position that covers it."""
        async with self._user_lock.queue(user_id):
            not_offline = await self._load()
            current = not_offline.get(user_id) or await self._hs.stores.presence.get_presence(user_id)
            new = transition(current)
            if new == current:
                return self._position()
            if attrs.evolve(current, last_active_ts=new.last_active_ts) == new:
                # only the activity time moved: nothing to tell clients now
                await self._hs.db.runInteraction("presence_touch", _touch_txn, user_id, new.last_active_ts)
                position = self._position()
            else:
                rooms = await self._hs.stores.presence.get_joined_rooms_of_users([user_id])
                position = await self._write("set_presence", _upsert_txn, new, users=[user_id], rooms=rooms)
            if new.state == OFFLINE:
                not_offline.pop(user_id, None)
                self._syncing.forget(user_id)
            else:
                not_offline[user_id] = new
            return position

    async def _load(self) -> dict[str, UserPresence]:
        if self._not_offline is None:
            rows = await self._hs.stores.presence.get_not_offline()
            if self._not_offline is None:
                self._not_offline = {p.user_id: p for p in rows}
        return self._not_offline

    def _position(self) -> int:
        return self._generator.get_current_token_for_writer(self._hs.instance_name)

    def _now(self) -> int:
        return self._hs.clock.time_msec()

    # -- readers ---------------------------------------------------------------
    async def read_updates(self, instance: str, from_pos: int, to_pos: int) -> Optional[StreamUpdates]:
        store = self._hs.stores.presence
        users = await store.get_users_changed_between(from_pos, to_pos)
        rooms = await store.get_joined_rooms_of_users(users) if users else set()
        return StreamUpdates(rooms=rooms, users=users)

    async def sync(self, ctx: SyncContext) -> SyncContribution:
        if not self._hs.config.presence.enabled:
            return SyncContribution()
        store = self._hs.stores.presence
        if ctx.from_pos == 0:
            rows = await store.get_peers_presence(ctx.user_id) if ctx.to_pos > 0 else []
        else:
            changed, new_peers = [], []
            if ctx.to_pos > ctx.from_pos:
                changed = await store.get_peers_changes(ctx.user_id, ctx.from_pos, ctx.to_pos)
            if ctx.events_to_pos > ctx.events_from_pos:
                new_peers = await store.get_new_peers_presence(
                    ctx.user_id, ctx.joined_room_ids, ctx.events_from_pos, ctx.events_to_pos
                )
            by_user = {p.user_id: p for p in new_peers}
            by_user.update((p.user_id, p) for p in changed)
            rows = [by_user[u] for u in sorted(by_user)]
        now = self._now()
        presence_filter = ctx.filter.presence_filter
        events = presence_filter.filter(
            [{"type": "m.presence", "sender": p.user_id, "content": presence_content(p, now)} for p in rows]
        )
        if presence_filter.limit is not None:
            events = events[: presence_filter.limit]
        if not events:
            return SyncContribution()
        return SyncContribution(top_level={"presence": {"events": events}})
