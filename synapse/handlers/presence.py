"""Presence on every process: /sync reports, activity, GET and PUT.

The writer (synapse/streams/presence.py) decides presence; this side tells
it what happens here through `hs.stream_writer("presence")`, which is the
stream itself in a monolith and a replication call on a worker. To keep a
long-poll from costing a replication round trip each time, `SyncReporter`
reports transitions only: a user starting to be served (their first /sync
here, or a new `set_presence`), and stopping `sync_stop_grace_ms` after
their last /sync here ended (the next long-poll usually comes sooner);
every `refresh_ms` it re-sends the whole set, so the writer can tell a
crashed process from a quiet one. Activity is forwarded at most once per
`activity_report_ms` per user, in the background.
"""

import logging
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, AsyncIterator, Awaitable, Callable, Optional

from twisted.internet import defer
from twisted.internet.interfaces import IDelayedCall

from synapse.api.errors import AuthError, Codes, SynapseError
from synapse.api.ratelimiting import ratelimiter_from_settings
from synapse.config.presence import PresenceTimeouts
from synapse.storage.stores.presence import OFFLINE
from synapse.streams.presence_state import presence_content
from synapse.types import UserID
from synapse.util.clock import Clock
from synapse.util.linearizer import KeyedLinearizer

if TYPE_CHECKING:
    from synapse.server import HomeServer

logger = logging.getLogger(__name__)

JsonDict = dict[str, Any]


def _in_background(what: str, call: Awaitable[Any]) -> None:
    d = defer.ensureDeferred(call)  # type: ignore[arg-type]
    d.addErrback(lambda f: logger.warning("Presence: %s failed: %s", what, f.value))


class SyncReporter:
    """Tells the presence writer which users this process serves /sync for
    (see the module docstring); `writer()` returns the writer facade."""

    def __init__(self, clock: Clock, instance: str, timeouts: PresenceTimeouts, writer: Callable[[], Any]) -> None:
        self._clock = clock
        self._instance = instance
        self._timeouts = timeouts
        self._writer = writer
        # user -> syncs in flight here
        self._syncs: dict[str, int] = {}
        # user -> set_presence the writer knows this process serves them with
        self._reported: dict[str, str] = {}
        self._stop_timers: dict[str, IDelayedCall] = {}
        # one report at a time per user, in order (a start never overtakes a stop)
        self._calls = KeyedLinearizer()
        # whether the last refresh sent was empty (quiet processes stop refreshing)
        self._sent_empty = False

    @asynccontextmanager
    async def syncing(self, user_id: str, set_presence: str) -> AsyncIterator[None]:
        """Around one /sync that keeps the user `set_presence` (online or unavailable)."""
        self._syncs[user_id] = self._syncs.get(user_id, 0) + 1
        timer = self._stop_timers.pop(user_id, None)
        if timer is not None and timer.active():
            timer.cancel()
        try:
            if self._reported.get(user_id) != set_presence:
                await self._report_start(user_id, set_presence)
            yield
        finally:
            self._syncs[user_id] -= 1
            if not self._syncs[user_id]:
                del self._syncs[user_id]
                self._stop_timers[user_id] = self._clock.call_later(
                    self._timeouts.sync_stop_grace_ms / 1000, self._stopped, user_id
                )

    async def _report_start(self, user_id: str, set_presence: str) -> None:
        async with self._calls.queue(user_id):
            if self._reported.get(user_id) == set_presence:
                return
            self._reported[user_id] = set_presence
            try:
                await self._writer().user_syncing(instance=self._instance, user_id=user_id, set_presence=set_presence)
            except Exception as e:
                # the sync goes on; its next one (or the refresh) tries again
                logger.warning("Presence: reporting that %s syncs failed: %s", user_id, e)
                self._reported.pop(user_id, None)

    def _stopped(self, user_id: str) -> None:
        self._stop_timers.pop(user_id, None)
        if user_id in self._syncs or self._reported.pop(user_id, None) is None:
            return

        async def report() -> None:
            async with self._calls.queue(user_id):
                await self._writer().user_stopped_syncing(instance=self._instance, user_id=user_id)

        _in_background(f"reporting that {user_id} stopped syncing", report())

    async def refresh(self) -> None:
        """Re-sends every user served here. With none, once: a restarted
        process so clears what the writer kept of its previous life, and a
        process that serves no /sync (an event persister) then stays quiet."""
        if not self._reported and self._sent_empty:
            return
        self._sent_empty = not self._reported
        try:
            await self._writer().refresh_syncing(instance=self._instance, users=dict(self._reported))
        except Exception as e:
            logger.warning("Presence: refreshing the syncing users of %s failed: %s", self._instance, e)


class PresenceHandler:
    def __init__(self, hs: "HomeServer") -> None:
        self._hs = hs
        config = hs.config.presence
        self._enabled = config.enabled
        self._tracking = config.enabled and config.track_presence
        self._timeouts = config.timeouts
        self._limiter = ratelimiter_from_settings(hs.clock, hs.config.ratelimiting.rc_presence_per_user)
        self.sync_reporter = SyncReporter(
            hs.clock, hs.instance_name, config.timeouts, lambda: hs.stream_writer("presence")
        )
        # user -> when their activity was last forwarded from here
        self._activity_reported: dict[str, int] = {}

    @asynccontextmanager
    async def syncing(self, user_id: str, set_presence: Optional[str]) -> AsyncIterator[None]:
        """Around a /sync: keeps the user online (or unavailable) while it
        runs, unless presence is not tracked or the client asked for offline."""
        if not self._tracking or set_presence == OFFLINE:
            yield
            return
        async with self.sync_reporter.syncing(user_id, set_presence or "online"):
            yield

    def bump_active(self, user_id: str) -> None:
        """The user did something (sent an event, typed, sent a receipt)."""
        if not self._tracking:
            return
        now = self._hs.clock.time_msec()
        last = self._activity_reported.get(user_id)
        if last is not None and now - last < self._timeouts.activity_report_ms:
            return
        if len(self._activity_reported) > 10_000:
            horizon = now - self._timeouts.activity_report_ms
            self._activity_reported = {u: t for u, t in self._activity_reported.items() if t > horizon}
        self._activity_reported[user_id] = now
        _in_background(
            f"recording the activity of {user_id}", self._hs.stream_writer("presence").bump_active(user_id=user_id)
        )

    async def set_presence(self, user_id: str, presence: str, status_msg: Optional[str]) -> None:
        """PUT /presence: rate limited; accepted but not stored when presence is disabled."""
        self._limiter.ratelimit(user_id)
        if self._enabled:
            await self._hs.stream_writer("presence").set_presence(
                user_id=user_id, presence=presence, status_msg=status_msg
            )

    async def get_presence(self, observer: str, target: str) -> JsonDict:
        """GET /presence: the target's presence, for themselves or a user who
        shares a room with them (offline for everyone when disabled)."""
        target_id = UserID.from_string(target)
        if not self._enabled:
            return {"presence": OFFLINE}
        stores = self._hs.stores
        if observer != target:
            if target_id.domain == self._hs.hostname and await stores.registration.get_user(target) is None:
                raise SynapseError(404, f"No such user: {target}", Codes.NOT_FOUND)
            if not await stores.presence.shares_a_room(observer, target):
                raise AuthError(403, "You are not allowed to see their presence")
        return presence_content(await stores.presence.get_presence(target), self._hs.clock.time_msec())
