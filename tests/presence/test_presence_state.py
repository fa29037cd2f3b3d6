"""The presence state machine with a fake clock: the pure transitions, the
writer's record of syncing processes, the per-process sync reporter (one
writer call per transition, not per long-poll), and the writer itself on
both engines driven by a fake clock."""

from typing import Any

import attrs
import pytest
from twisted.internet import defer, task

from synapse.config.presence import PresenceTimeouts
from synapse.handlers.presence import SyncReporter
from synapse.storage.database import DatabasePool
from synapse.storage.stores.presence import UserPresence
from synapse.streams.presence import PresenceStream
from synapse.streams.presence_state import (
    OFFLINE,
    ONLINE,
    UNAVAILABLE,
    SyncingUsers,
    on_activity,
    on_set,
    on_sync_start,
    on_timeout,
    presence_content,
)
from synapse.util.clock import Clock
from tests.rooms.server import make_homeserver
from tests.support.twisted import run

T = PresenceTimeouts()
ALICE, BOB = "@alice:test.local", "@bob:test.local"


# -- transitions -----------------------------------------------------------------


def test_online_goes_idle_then_offline_once_nobody_serves_their_sync() -> None:
    online = on_set(UserPresence(ALICE), ONLINE, "hi", now=1_000)
    assert online == UserPresence(ALICE, ONLINE, "hi", 1_000, True)
    # syncing keeps them online, but currently_active ends after a minute
    assert on_timeout(online, 1_000 + T.active_ms, True, 0, T) == online
    quiet = on_timeout(online, 1_001 + T.active_ms, True, 0, T)
    assert quiet == attrs.evolve(online, currently_active=False)
    # five minutes without activity: unavailable, even while syncing
    idle = on_timeout(quiet, 1_001 + T.idle_ms, True, 0, T)
    assert (idle.state, idle.currently_active) == (UNAVAILABLE, False)
    # their last sync ended at 400_000: offline 30 s later, not before
    assert on_timeout(idle, 400_000 + T.sync_online_ms, False, 400_000, T) == idle
    gone = on_timeout(idle, 400_001 + T.sync_online_ms, False, 400_000, T)
    assert gone.state == OFFLINE and gone.status_msg == "hi"
    assert on_timeout(gone, 10**9, False, 0, T) == gone


def test_activity_and_sync_start() -> None:
    idle = UserPresence(ALICE, UNAVAILABLE, None, 5, False)
    assert on_activity(idle, 9) == UserPresence(ALICE, ONLINE, None, 9, True)
    offline = UserPresence(ALICE, OFFLINE, None, 5, False)
    # activity of an offline user (not syncing) only moves the activity time
    assert on_activity(offline, 9) == attrs.evolve(offline, last_active_ts=9)
    assert on_sync_start(offline, ONLINE, 9) == UserPresence(ALICE, ONLINE, None, 9, True)
    # an idle user stays unavailable while syncing: syncing is not activity
    assert on_sync_start(idle, ONLINE, 9) == idle
    assert on_sync_start(UserPresence(ALICE, ONLINE, None, 5, True), UNAVAILABLE, 9).state == UNAVAILABLE


def test_presence_content() -> None:
    assert presence_content(UserPresence(ALICE), 50) == {"presence": "offline"}
    assert presence_content(UserPresence(ALICE, UNAVAILABLE, None, 20, False), 50) == {
        "presence": "unavailable", "last_active_ago": 30,
    }  # fmt: skip
    online = UserPresence(ALICE, ONLINE, "lunch", 20, True)
    assert presence_content(online, 50) == {
        "presence": "online", "last_active_ago": 30, "status_msg": "lunch", "currently_active": True,
    }  # fmt: skip


def test_syncing_users_forget_a_silent_process() -> None:
    syncing = SyncingUsers(T, started_at=0)
    # never reported: counts as seen syncing until the startup grace ends
    assert syncing.last_sync(ALICE) == T.refresh_ms
    assert syncing.start("worker1", ALICE, 1_000) is True
    assert syncing.start("worker2", ALICE, 1_100) is False
    syncing.stop("worker1", ALICE, 2_000)
    assert syncing.is_syncing(ALICE)
    assert syncing.refresh("worker1", [BOB], 3_000) == {BOB}
    # worker2 goes silent (last heard at 1_100); worker1 keeps refreshing
    syncing.refresh("worker1", [BOB], 1_100 + 3 * T.refresh_ms)
    syncing.expire(1_100 + 3 * T.refresh_ms)
    assert syncing.is_syncing(ALICE)
    syncing.expire(1_101 + 3 * T.refresh_ms)
    assert not syncing.is_syncing(ALICE) and syncing.is_syncing(BOB)
    # ALICE was last seen syncing when worker2 was last heard from
    assert syncing.last_sync(ALICE) == 1_100


# -- the per-process reporter ----------------------------------------------------


class RecordingWriter:
    """The writer facade, recording calls (remote or local, it is awaited alike)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __getattr__(self, method: str) -> Any:
        async def call(**kwargs: Any) -> int:
            self.calls.append((method, kwargs))
            return 0

        return call


def _one_sync(reporter: SyncReporter, user_id: str, presence: str = ONLINE) -> None:
    async def sync() -> None:
        async with reporter.syncing(user_id, presence):
            pass

    d = defer.ensureDeferred(sync())
    assert d.called


def test_reporter_reports_transitions_not_every_long_poll() -> None:
    reactor = task.Clock()
    writer = RecordingWriter()
    reporter = SyncReporter(Clock(reactor), "worker1", T, lambda: writer)
    for _ in range(20):  # long-polls one after another
        _one_sync(reporter, ALICE)
        reactor.advance(1)
    assert writer.calls == [("user_syncing", {"instance": "worker1", "user_id": ALICE, "set_presence": ONLINE})]
    # a different set_presence is news
    _one_sync(reporter, ALICE, UNAVAILABLE)
    assert writer.calls[-1][1]["set_presence"] == UNAVAILABLE and len(writer.calls) == 2
    # no sync for the grace period: one stop report
    reactor.advance(T.sync_stop_grace_ms / 1000)
    assert writer.calls[-1] == ("user_stopped_syncing", {"instance": "worker1", "user_id": ALICE})
    reactor.advance(100)
    assert len(writer.calls) == 3
    # the refresh carries every user served, also in the grace period
    _one_sync(reporter, BOB)
    defer.ensureDeferred(reporter.refresh())
    assert writer.calls[-1] == ("refresh_syncing", {"instance": "worker1", "users": {BOB: ONLINE}})
    # serving nobody: one empty refresh, then none
    reactor.advance(T.sync_stop_grace_ms / 1000)
    calls = len(writer.calls)
    for _ in range(3):
        defer.ensureDeferred(reporter.refresh())
    assert writer.calls[calls:] == [("refresh_syncing", {"instance": "worker1", "users": {}})]


def test_reporter_keeps_a_user_whose_syncs_overlap() -> None:
    reactor = task.Clock()
    writer = RecordingWriter()
    reporter = SyncReporter(Clock(reactor), "main", T, lambda: writer)
    release: defer.Deferred[None] = defer.Deferred()

    async def long_poll() -> None:
        async with reporter.syncing(ALICE, ONLINE):
            await release

    d = defer.ensureDeferred(long_poll())
    _one_sync(reporter, ALICE)  # a second device's sync ends meanwhile
    reactor.advance(T.sync_stop_grace_ms)
    assert [c[0] for c in writer.calls] == ["user_syncing"]
    release.callback(None)
    assert d.called
    reactor.advance(T.sync_stop_grace_ms / 1000)
    assert [c[0] for c in writer.calls] == ["user_syncing", "user_stopped_syncing"]


# -- the writer, on a database, with a fake clock --------------------------------


@pytest.fixture
def writer(db_pool: DatabasePool) -> tuple[PresenceStream, task.Clock]:
    hs = run(make_homeserver(db_pool))
    reactor = task.Clock()
    reactor.advance(1_000_000)
    hs.__dict__["clock"] = Clock(reactor)  # type: ignore[arg-type]
    stream = hs.stream_writer("presence")
    assert isinstance(stream, PresenceStream)
    return stream, reactor


def _stored(stream: PresenceStream, user_id: str) -> UserPresence:
    return run(stream._hs.stores.presence.get_presence(user_id))


def test_writer_applies_timeouts(writer: tuple[PresenceStream, task.Clock]) -> None:
    stream, reactor = writer
    now = stream._hs.clock.time_msec()
    run(stream.user_syncing(instance="worker1", user_id=ALICE, set_presence=ONLINE))
    assert _stored(stream, ALICE) == UserPresence(ALICE, ONLINE, None, now, True)
    run(stream.set_presence(user_id=BOB, presence=ONLINE, status_msg="here"))
    # repeating a sync start changes nothing and writes no position
    before = stream._generator.get_current_token()
    run(stream.user_syncing(instance="worker1", user_id=ALICE, set_presence=ONLINE))
    assert stream._generator.get_current_token() == before

    # BOB never syncs: offline sync_online_ms after his activity, once the
    # writer's startup grace (one refresh interval) is over
    reactor.advance(T.sync_online_ms / 1000 + 1)
    run(stream.check_timeouts())
    assert _stored(stream, BOB).state == ONLINE
    reactor.advance(T.refresh_ms / 1000)
    run(stream.check_timeouts())
    assert _stored(stream, BOB).state == OFFLINE and _stored(stream, BOB).status_msg == "here"
    changed = run(stream._hs.stores.presence.get_users_changed_between(before, stream._generator.get_current_token()))
    assert sorted(changed) == [ALICE, BOB]

    # ALICE keeps syncing (worker1 refreshes): online, no longer currently
    # active after a minute, idle after five
    assert _stored(stream, ALICE) == UserPresence(ALICE, ONLINE, None, now, False)
    for _ in range(T.idle_ms // T.refresh_ms):
        reactor.advance(T.refresh_ms / 1000)
        run(stream.refresh_syncing(instance="worker1", users={ALICE: ONLINE}))
        run(stream.check_timeouts())
    assert _stored(stream, ALICE).state == UNAVAILABLE
    # activity brings her back; its bare repetition writes no position
    run(stream.bump_active(user_id=ALICE))
    assert _stored(stream, ALICE).state == ONLINE
    before = stream._generator.get_current_token()
    reactor.advance(1)
    run(stream.bump_active(user_id=ALICE))
    assert stream._generator.get_current_token() == before
    assert _stored(stream, ALICE).last_active_ts == stream._hs.clock.time_msec()

    # she stops syncing: offline sync_online_ms later
    run(stream.user_stopped_syncing(instance="worker1", user_id=ALICE))
    reactor.advance(T.sync_online_ms / 1000 - 1)
    run(stream.check_timeouts())
    assert _stored(stream, ALICE).state == ONLINE
    reactor.advance(2)
    run(stream.check_timeouts())
    assert _stored(stream, ALICE).state == OFFLINE


def test_writer_times_out_the_users_of_a_crashed_process(writer: tuple[PresenceStream, task.Clock]) -> None:
    stream, reactor = writer
    run(stream.refresh_syncing(instance="worker1", users={ALICE: ONLINE}))
    run(stream.refresh_syncing(instance="worker2", users={BOB: UNAVAILABLE}))
    assert (_stored(stream, ALICE).state, _stored(stream, BOB).state) == (ONLINE, UNAVAILABLE)
    # worker2 refreshes, worker1 has died
    for _ in range(4):
        reactor.advance(T.refresh_ms / 1000)
        run(stream.refresh_syncing(instance="worker2", users={BOB: UNAVAILABLE}))
        run(stream.check_timeouts())
    assert _stored(stream, ALICE).state == OFFLINE
    assert _stored(stream, BOB).state == UNAVAILABLE
