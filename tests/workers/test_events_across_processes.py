"""The events stream between HomeServers of one server: persisting through
the room's writer over replication HTTP, reading one's own writes, waking
waiters on other processes, and one event per transaction id."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from twisted.internet import defer

from synapse.replication.positions import StreamUpdates
from synapse.streams.events import EventsStreamWaker, ShardedEventPersister, event_writer_for_room
from tests.replication.util import eventually
from tests.support.twisted import run
from tests.workers.cluster import Cluster, register, requester


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    cluster = Cluster(tmp_path, instances=["main", "persister1"], events_writers=["persister1"])
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


def _message(room_id: str, body: str) -> dict:
    return {"type": "m.room.message", "room_id": room_id, "content": {"msgtype": "m.text", "body": body}}


def test_event_creator_persists_through_the_writer_and_reads_its_writes(cluster: Cluster) -> None:
    main, persister = cluster.servers["main"], cluster.servers["persister1"]
    assert isinstance(main.event_persister, ShardedEventPersister)
    alice = run(register(main, "alice"))
    room_id, _ = run(main.room_creation_handler.create_room(requester(main, "alice"), {"name": "r"}))

    # the create event of a v12 room is placed by its derived room id too
    assert event_writer_for_room(room_id, ["persister1"]) == "persister1"
    event = run(main.event_creation_handler.create_and_send_event(requester(main, "alice"), _message(room_id, "hi")))

    # the writer persisted it, under its own instance name
    rows = run(main.db.execute("rows", "SELECT DISTINCT instance_name FROM events WHERE room_id = ?", room_id))
    assert rows == [("persister1",)]
    assert event.internal_metadata.instance_name == "persister1"
    position = event.internal_metadata.stream_ordering
    # read your writes: by the time the call returned, main had seen the position
    assert main.id_generators["events"].get_current_token_for_writer("persister1") >= position
    assert main.current_token().get("events") >= position
    state = run(main.stores.state.get_current_state_ids(room_id))
    assert state[("m.room.member", alice)]
    assert run(main.stores.events.get_event(event.event_id)).content["body"] == "hi"
    assert run(persister.stores.events.get_event(event.event_id)).content["body"] == "hi"


def test_waiters_on_another_process_wake_for_its_room_and_member(cluster: Cluster) -> None:
    main, persister = cluster.servers["main"], cluster.servers["persister1"]
    alice = run(register(main, "alice"))
    bob = run(register(main, "bob"))
    room_id, _ = run(main.room_creation_handler.create_room(requester(main, "alice"), {}))
    before = main.current_token().get("events")
    # a second reader hook, to ask afterwards what it would have woken
    reader = EventsStreamWaker(main.db, main.stores.events, main.id_generators["events"], main.notifier).read_updates

    async def run_scenario() -> None:
        # check() turns truthy once main's token moved past `before`; main
        # learns of the invite, written on the persister, only through the bus
        async def waiter(user_id: str, rooms: list[str]) -> int:
            async def check() -> int:
                token = main.current_token().get("events")
                return token if token > before else 0

            return await main.notifier.wait_for_events(user_id, rooms, 10_000, check)

        room_wait = defer.ensureDeferred(waiter(alice, [room_id]))
        bob_wait = defer.ensureDeferred(waiter(bob, []))
        # in no room the write touched: not woken (only its timeout ends it)
        carol_wait = defer.ensureDeferred(waiter("@carol:elsewhere", ["!other:elsewhere"]))
        await eventually(lambda: main.notifier._listeners.get(bob), what="bob's waiter registered")
        await persister.room_member_handler.update_membership(requester(persister, "alice"), bob, room_id, "invite")
        results = await defer.gatherResults([room_wait, bob_wait])
        assert all(r > before for r in results)
        assert not carol_wait.called
        carol_wait.cancel()
        carol_wait.addErrback(lambda f: f.trap(defer.CancelledError))

    run(run_scenario())
    after = main.id_generators["events"].get_current_token_for_writer("persister1")
    updates = run(reader("persister1", before, after))
    assert set(updates.rooms) == {room_id} and set(updates.users) == {bob}
    # nothing new below the token since: nobody to wake
    assert run(reader("persister1", after, after)) == StreamUpdates()
    invite = run(main.stores.members.get_membership(room_id, bob))
    assert invite is not None and invite[0] == "invite"


def test_repeated_transaction_id_from_two_processes_persists_one_event(cluster: Cluster) -> None:
    main, persister = cluster.servers["main"], cluster.servers["persister1"]
    run(register(main, "alice"))
    room_id, _ = run(main.room_creation_handler.create_room(requester(main, "alice"), {}))

    async def race() -> list:
        sends = [
            defer.ensureDeferred(
                hs.event_creation_handler.create_and_send_event(
                    requester(hs, "alice"), _message(room_id, f"from {hs.instance_name}"), txn_id="txn1"
                )
            )
            for hs in (main, persister, main)
        ]
        return await defer.gatherResults(sends)

    events = run(race())
    assert len({e.event_id for e in events}) == 1
    rows = run(
        main.db.execute("count", "SELECT COUNT(*) FROM events WHERE room_id = ? AND type = 'm.room.message'", room_id)
    )
    assert rows == [(1,)]


def test_bad_persist_request_is_refused(cluster: Cluster) -> None:
    import json
    import urllib.error
    import urllib.request

    from tests.workers.cluster import SECRET

    url = cluster.base_url("persister1") + "/_synapse/replication/persist_event/%24abc/txn1"
    request = urllib.request.Request(
        url,
        data=json.dumps({"event": "nope"}).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {SECRET}", "Content-Type": "application/json"},
    )
    with pytest.raises(urllib.error.HTTPError) as exc:
        urllib.request.urlopen(request, timeout=10)
    assert exc.value.code == 400
    assert json.loads(exc.value.read())["errcode"] == "M_BAD_JSON"


def test_waiters_wake_when_an_idle_writer_lets_the_token_pass_an_event(tmp_path: Path) -> None:
    """Two writers: an event on one becomes readable (below the token) only
    once the idle other writer's position follows. That later position
    touches none of the idle writer's rooms, yet the event's waiters must
    wake then, not at their timeout."""
    cluster = Cluster(tmp_path, instances=["main", "p1", "p2"], events_writers=["p1", "p2"])
    try:
        main, _, _ = cluster.start()
        run(register(main, "alice"))
        room_id, _ = run(main.room_creation_handler.create_room(requester(main, "alice"), {}))
        owner = event_writer_for_room(room_id, ["p1", "p2"])
        created = _max_ordering(main, room_id)
        run(eventually(lambda: main.current_token().get("events") >= created, what="room creation readable"))

        async def scenario() -> float:
            start = main.clock.time()
            sent: dict[str, int] = {}

            async def check() -> bool:
                return "ordering" in sent and main.current_token().get("events") >= sent["ordering"]

            waiter = defer.ensureDeferred(main.notifier.wait_for_events("@watcher:elsewhere", [room_id], 8_000, check))
            # written on the owner itself; main hears the owner, then the idle writer
            owner_hs = cluster.servers[owner]
            event = await owner_hs.event_creation_handler.create_and_send_event(
                requester(owner_hs, "alice"), _message(room_id, "late")
            )
            sent["ordering"] = event.internal_metadata.stream_ordering
            assert await waiter
            return main.clock.time() - start

        assert run(scenario(), timeout=20) < 4.0
    finally:
        cluster.stop()


def _max_ordering(hs, room_id: str) -> int:  # type: ignore[no-untyped-def]
    rows = run(hs.db.execute("max", "SELECT MAX(stream_ordering) FROM events WHERE room_id = ?", room_id))
    return rows[0][0]


def test_writer_wakes_waiters_when_its_own_write_lets_the_token_pass_others(tmp_path: Path) -> None:
    """On a writer, another writer's event stays above the token while a
    local write is in flight; the local write finishing lets the token pass
    it, and that event's waiters wake then."""
    cluster = Cluster(tmp_path, instances=["main", "p1", "p2"], events_writers=["p1", "p2"])
    try:
        main, p1, p2 = cluster.start()
        run(register(main, "alice"))
        while True:  # a room owned by p2
            room_id = run(main.room_creation_handler.create_room(requester(main, "alice"), {}))[0]
            if event_writer_for_room(room_id, ["p1", "p2"]) == "p2":
                break
        created = _max_ordering(main, room_id)
        run(eventually(lambda: p1.current_token().get("events") >= created, what="room creation readable on p1"))

        async def scenario() -> float:
            start = p1.clock.time()
            in_flight = p1.id_generators["events"].get_next()
            await in_flight.__aenter__()  # a persist on p1 that has not committed yet
            sent: dict[str, int] = {}

            async def check() -> bool:
                return "ordering" in sent and p1.current_token().get("events") >= sent["ordering"]

            waiter = defer.ensureDeferred(p1.notifier.wait_for_events("@watcher:elsewhere", [room_id], 8_000, check))
            event = await p2.event_creation_handler.create_and_send_event(requester(p2, "alice"), _message(room_id, "x"))
            sent["ordering"] = ordering = event.internal_metadata.stream_ordering
            await eventually(
                lambda: p1.id_generators["events"].get_current_token_for_writer("p2") >= ordering, what="p1 heard p2"
            )
            assert not waiter.called  # p2's event is above p1's token
            await in_flight.__aexit__(None, None, None)
            # what the persister does after its commit: tell the notifier (about its own room)
            p1.notifier.on_new_event("events", p1.current_token().get("events"), rooms=["!elsewhere:hs"])
            assert await waiter
            return p1.clock.time() - start

        assert run(scenario(), timeout=20) < 4.0
    finally:
        cluster.stop()
