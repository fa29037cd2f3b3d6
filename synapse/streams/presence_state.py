"""The presence state machine, free of I/O so it can be tested with any clock.

Transitions take the current `UserPresence` and the time (ms) and return
the next one (equal when nothing changes). `SyncingUsers` is the writer's
record of which processes serve which users' /sync: each process reports
when a user starts and stops syncing and re-sends its whole set every
`refresh_ms`; a process silent for three intervals is forgotten, so the
users of a crashed worker time out.
"""

from typing import Collection, Optional

import attrs

from synapse.config.presence import PresenceTimeouts
from synapse.storage.stores.presence import OFFLINE, UserPresence

ONLINE = "online"
UNAVAILABLE = "unavailable"
STATES = (ONLINE, UNAVAILABLE, OFFLINE)
# a process silent for this many refresh intervals is taken for dead
INSTANCE_EXPIRY_INTERVALS = 3


def on_set(current: UserPresence, state: str, status_msg: Optional[str], now: int) -> UserPresence:
    """The user set their presence (PUT): going online is activity."""
    if state == ONLINE:
        return attrs.evolve(current, state=state, status_msg=status_msg, last_active_ts=now, currently_active=True)
    return attrs.evolve(current, state=state, status_msg=status_msg, currently_active=False)


def on_activity(current: UserPresence, now: int) -> UserPresence:
    """The user did something (sent an event, typed, read): an idle user is
    online again; an offline one stays offline (they are not syncing)."""
    state = ONLINE if current.state == UNAVAILABLE else current.state
    return attrs.evolve(current, state=state, last_active_ts=now, currently_active=state == ONLINE)


def on_sync_start(current: UserPresence, set_presence: str, now: int) -> UserPresence:
    """A process started serving the user's /sync with `set_presence`:
    online brings an offline user online; unavailable marks them so. An
    idle (unavailable) user stays so while syncing: syncing is not activity
    (the spec's "pro-active event"). Processes report a start only when a
    user begins syncing there, so a user who PUTs offline stays offline
    while their client keeps syncing."""
    if set_presence == ONLINE and current.state == OFFLINE:
        return attrs.evolve(current, state=ONLINE, last_active_ts=now, currently_active=True)
    if set_presence == UNAVAILABLE and current.state != UNAVAILABLE:
        return attrs.evolve(current, state=UNAVAILABLE, currently_active=False)
    return current


def on_timeout(
    current: UserPresence, now: int, syncing: bool, last_sync: int, timeouts: PresenceTimeouts
) -> UserPresence:
    """Where time alone takes the user: offline once nobody has served their
    /sync (nor seen activity) for `sync_online_ms`; online -> unavailable
    after `idle_ms` without activity; currently_active ends after `active_ms`."""
    if current.state == OFFLINE:
        return current
    if not syncing and now - max(last_sync, current.last_active_ts) > timeouts.sync_online_ms:
        return attrs.evolve(current, state=OFFLINE, currently_active=False)
    idle_for = now - current.last_active_ts
    if current.state == ONLINE and idle_for > timeouts.idle_ms:
        return attrs.evolve(current, state=UNAVAILABLE, currently_active=False)
    if current.currently_active and idle_for > timeouts.active_ms:
        return attrs.evolve(current, currently_active=False)
    return current


def presence_content(presence: UserPresence, now: int) -> dict:
    """The `content` of an m.presence event (and the GET body)."""
    content: dict = {"presence": presence.state}
    if presence.last_active_ts:
        content["last_active_ago"] = max(0, now - presence.last_active_ts)
    if presence.status_msg is not None:
        content["status_msg"] = presence.status_msg
    if presence.state == ONLINE:  # the spec defines it for online only
        content["currently_active"] = presence.currently_active
    return content


class SyncingUsers:
    """Which process serves which user's /sync, and when each user was last
    seen syncing (see the module docstring)."""

    def __init__(self, timeouts: PresenceTimeouts, started_at: int) -> None:
        self._timeouts = timeouts
        self._by_instance: dict[str, set[str]] = {}
        self._instance_seen: dict[str, int] = {}
        self._last_sync: dict[str, int] = {}
        # users nobody has reported since this writer started count as seen
        # syncing until every live process has had time to refresh
        self._startup_grace_until = started_at + timeouts.refresh_ms

    def start(self, instance: str, user_id: str, now: int) -> bool:
        """Records a start; True when no process was serving the user before."""
        was_syncing = self.is_syncing(user_id)
        self._by_instance.setdefault(instance, set()).add(user_id)
        self._instance_seen[instance] = now
        self._last_sync[user_id] = now
        return not was_syncing

    def stop(self, instance: str, user_id: str, now: int) -> None:
        self._by_instance.get(instance, set()).discard(user_id)
        self._instance_seen[instance] = now
        self._last_sync[user_id] = now

    def refresh(self, instance: str, user_ids: Collection[str], now: int) -> set[str]:
        """Replaces `instance`'s set; returns the users it newly serves."""
        previous = self._by_instance.get(instance, set())
        current = set(user_ids)
        for user_id in previous | current:
            self._last_sync[user_id] = now
        self._by_instance[instance] = current
        self._instance_seen[instance] = now
        return current - previous

    def expire(self, now: int) -> None:
        """Forgets processes that stopped refreshing (their users were last
        seen syncing when the process was last heard from)."""
        horizon = INSTANCE_EXPIRY_INTERVALS * self._timeouts.refresh_ms
        for instance, seen in list(self._instance_seen.items()):
            if now - seen > horizon:
                del self._instance_seen[instance]
                for user_id in self._by_instance.pop(instance, set()):
                    self._last_sync[user_id] = seen

    def forget(self, user_id: str) -> None:
        """Drops what is known of a user no process serves (they went offline)."""
        if not self.is_syncing(user_id):
            self._last_sync.pop(user_id, None)

    def is_syncing(self, user_id: str) -> bool:
        return any(user_id in users for users in self._by_instance.values())

    def last_sync(self, user_id: str) -> int:
        return self._last_sync.get(user_id, self._startup_grace_until)
