"""The event persister and the read stores, on both engines."""

import sqlite3

import psycopg2
import pytest

from synapse.api.errors import NotFoundError
from synapse.events.builder import build_event
from synapse.events.room_versions import KNOWN_ROOM_VERSIONS
from synapse.storage.persist_events import MAX_STATE_GROUP_CHAIN
from tests.rooms.server import make_homeserver, requester, user
from tests.support.twisted import run

V10 = KNOWN_ROOM_VERSIONS["10"]


async def _room(hs, preset="public_chat", **extra):
    room_id, _ = await hs.room_creation_handler.create_room(requester("alice"), {"preset": preset, **extra})
    return room_id


async def _send(hs, room_id, body="hi", who="alice", txn_id=None):
    return await hs.event_creation_handler.create_and_send_event(
        requester(who),
        {"type": "m.room.message", "room_id": room_id, "content": {"msgtype": "m.text", "body": body}},
        txn_id=txn_id,
    )


def _count(db, sql, *args):
    return run(db.execute("count", sql, *args))[0][0]


def test_persisted_event_reads_back_with_stream_ordering_and_state(db_pool):
    async def go():
        hs = await make_homeserver(db_pool)
        room_id = await _room(hs)
        event = await _send(hs, room_id)
        fetched = await hs.stores.events.get_event(event.event_id)
        state_after = await hs.stores.state.get_state_ids_for_event(event.event_id)
        current = await hs.stores.state.get_current_state_ids(room_id)
        return hs, room_id, event, fetched, state_after, current

    hs, room_id, event, fetched, state_after, current = run(go())
    assert fetched.content == {"msgtype": "m.text", "body": "hi"}
    assert fetched.internal_metadata.stream_ordering == event.internal_metadata.stream_ordering
    assert hs.current_token().room_key == event.internal_metadata.stream_ordering
    assert state_after == current
    assert current[("m.room.member", user("alice"))]
    assert run(hs.stores.events.get_forward_extremities(room_id)) == [event.event_id]
    room = run(hs.stores.rooms.get_room(room_id))
    assert room["room_version"] == "10" and room["creator"] == user("alice")


def test_unknown_event_and_room(db_pool):
    async def go():
        hs = await make_homeserver(db_pool)
        assert await hs.stores.events.get_event("$nope", allow_none=True) is None
        assert await hs.stores.events.get_events_as_list(["$nope"]) == []
        with pytest.raises(NotFoundError):
            await hs.stores.events.get_event("$nope")
        with pytest.raises(NotFoundError):
            await hs.stores.rooms.get_room_version("!nope:test.local")

    run(go())


def test_state_groups_are_deltas_with_bounded_chains(db_pool):
    async def go():
        hs = await make_homeserver(db_pool)
        room_id = await _room(hs)
        alice = requester("alice")
        for i in range(MAX_STATE_GROUP_CHAIN + 5):
            await hs.event_creation_handler.create_and_send_event(
                alice, {"type": "m.room.topic", "room_id": room_id, "state_key": "", "content": {"topic": f"t{i}"}}
            )
        return hs, room_id

    hs, room_id = run(go())
    # the create event's group is the only full snapshot until the chain limit
    assert _count(db_pool, "SELECT COUNT(*) FROM state_groups WHERE prev_group IS NULL") == 2
    assert _count(db_pool, "SELECT MAX(chain_length) FROM state_groups") == MAX_STATE_GROUP_CHAIN - 1
    # each delta group holds one row
    assert (
        _count(
            db_pool,
            "SELECT MAX(n) FROM (SELECT COUNT(*) AS n FROM state_groups_state AS s"
            " JOIN state_groups AS g ON g.id = s.state_group WHERE g.prev_group IS NOT NULL"
            " GROUP BY s.state_group) AS c",
        )
        == 1
    )
    topic = run(hs.stores.state.get_current_state_event(room_id, "m.room.topic"))
    assert topic.content["topic"] == f"t{MAX_STATE_GROUP_CHAIN + 4}"
    assert topic.unsigned["prev_content"] == {"topic": f"t{MAX_STATE_GROUP_CHAIN + 3}"}


def test_failed_transaction_leaves_nothing_behind(db_pool):
    tables = (
        "events",
        "event_json",
        "state_groups",
        "state_groups_state",
        "event_edges",
        "event_to_state_groups",
        "current_state_events",
        "event_forward_extremities",
    )

    def counts():
        return {t: _count(db_pool, f"SELECT COUNT(*) FROM {t}") for t in tables}

    async def send_topic(hs, room_id, topic):
        return await hs.event_creation_handler.create_and_send_event(
            requester("alice"),
            {"type": "m.room.topic", "room_id": room_id, "state_key": "", "content": {"topic": topic}},
        )

    hs = run(make_homeserver(db_pool))
    room_id = run(_room(hs))
    topic = run(send_topic(hs, room_id, "first"))
    before = counts()
    position = hs.current_token().room_key

    # Persisting the same state event again writes its state group first,
    # then fails on the events table's unique event id: all of it rolls back.
    async def persist_again():
        context = await hs.state_handler.compute_context_for_new_event(V10, topic.prev_event_ids())
        await hs.event_persister.persist_event(topic, context)

    with pytest.raises((sqlite3.IntegrityError, psycopg2.IntegrityError)):
        run(persist_again())
    assert counts() == before
    # the room still works and the stream moved past the failed allocation
    event = run(send_topic(hs, room_id, "second"))
    assert event.internal_metadata.stream_ordering > position
    assert counts()["events"] == before["events"] + 1


def test_redaction_applied_on_read(db_pool):
    async def go():
        hs = await make_homeserver(db_pool)
        room_id = await _room(hs, room_version="11")
        message = await _send(hs, room_id, body="secret")
        redaction = await hs.event_creation_handler.create_and_send_event(
            requester("alice"),
            {
                "type": "m.room.redaction",
                "room_id": room_id,
                "redacts": message.event_id,
                "content": {"reason": "oops"},
            },
        )
        return hs, message, redaction

    hs, message, redaction = run(go())
    assert redaction.content["redacts"] == message.event_id  # v11: in content
    fetched = run(hs.stores.events.get_event(message.event_id))
    assert fetched.content == {}
    assert fetched.unsigned["redacted_because"]["event_id"] == redaction.event_id
    assert fetched.internal_metadata.redacted_by == redaction.event_id
    # the auth rules and state resolution still see the original
    raw = run(hs.stores.events.get_unredacted_events([message.event_id]))[message.event_id]
    assert raw.content["body"] == "secret"


def test_forked_dag_is_resolved(db_pool):
    """Two events citing the same parent make two extremities; the next
    event cites both and sees the resolved state."""

    async def go():
        hs = await make_homeserver(db_pool)
        room_id = await _room(hs)
        alice = requester("alice")
        parent_id = (await hs.stores.events.get_forward_extremities(room_id))[0]
        parent = (await hs.stores.events.get_unredacted_events([parent_id]))[parent_id]
        state = await hs.stores.state.get_state_ids_for_event(parent_id)
        auth_ids = [
            state[("m.room.create", "")],
            state[("m.room.power_levels", "")],
            state[("m.room.member", alice.user_id)],
        ]
        auth = list((await hs.stores.events.get_unredacted_events(auth_ids)).values())
        forks = []
        for name in ("left", "right"):
            event = build_event(
                V10,
                {
                    "type": "m.room.name",
                    "room_id": room_id,
                    "sender": alice.user_id,
                    "state_key": "",
                    "content": {"name": name},
                },
                [parent],
                auth,
                parent.depth + 1,
                hs.hostname,
                hs.signing_key,
                hs.clock.time_msec() + len(forks),
            )
            context = await hs.state_handler.compute_context_for_new_event(V10, [parent_id])
            await hs.event_persister.persist_event(event, context)
            forks.append(event)
        extremities = await hs.stores.events.get_forward_extremities(room_id)
        current = await hs.stores.state.get_current_state_ids(room_id)
        merge = await _send(hs, room_id, body="merge")
        return hs, forks, extremities, current, merge

    hs, forks, extremities, current, merge = run(go())
    assert sorted(extremities) == sorted(e.event_id for e in forks)
    assert current[("m.room.name", "")] in {e.event_id for e in forks}
    assert sorted(merge.prev_event_ids()) == sorted(extremities)
    before_merge = run(hs.stores.state.get_state_ids_for_event(merge.event_id, before=True))
    assert before_merge == current
    assert run(hs.stores.events.get_forward_extremities(merge.room_id)) == [merge.event_id]


def test_members_store(db_pool):
    async def go():
        hs = await make_homeserver(db_pool)
        hs.stores.profile.profiles[user("bob")] = {"displayname": "Bob", "avatar_url": "mxc://x/y"}
        room_id = await _room(hs)
        await hs.room_member_handler.update_membership(requester("bob"), user("bob"), room_id, "join")
        await hs.room_member_handler.update_membership(requester("alice"), user("carol"), room_id, "invite")
        return hs, room_id

    hs, room_id = run(go())
    members = hs.stores.members
    assert run(members.get_users_in_room(room_id)) == [user("alice"), user("bob")]
    assert run(members.get_joined_members(room_id))[user("bob")] == {"display_name": "Bob", "avatar_url": "mxc://x/y"}
    assert run(members.get_membership(room_id, user("carol")))[0] == "invite"
    assert run(members.get_membership(room_id, user("dave"))) is None
    assert [r.room_id for r in run(members.get_rooms_for_user(user("carol"), ("invite",)))] == [room_id]
    assert run(members.get_rooms_for_user(user("carol"))) == []
    assert run(members.get_joined_member_counts([room_id])) == {room_id: 2}


def test_concurrent_sends_form_one_chain(db_pool):
    """Sends racing in one room are serialised: none is lost, each cites the
    previous one, and racing repeats of one transaction id give one event."""
    from twisted.internet import defer

    async def go():
        hs = await make_homeserver(db_pool)
        room_id = await _room(hs)
        sends = [defer.ensureDeferred(_send(hs, room_id, body=str(i))) for i in range(15)]
        sends += [defer.ensureDeferred(_send(hs, room_id, body="dup", txn_id="same")) for _ in range(3)]
        events = await defer.gatherResults(sends, consumeErrors=True)
        return hs, room_id, events

    hs, room_id, events = run(go())
    distinct = {e.event_id: e for e in events}
    assert len(distinct) == 16
    assert len({e.event_id for e in events[15:]}) == 1
    chain = sorted(distinct.values(), key=lambda e: e.depth)
    assert [e.depth for e in chain] == list(range(chain[0].depth, chain[0].depth + 16))
    for previous, event in zip(chain, chain[1:], strict=False):
        assert event.prev_event_ids() == [previous.event_id]
    assert run(hs.stores.events.get_forward_extremities(room_id)) == [chain[-1].event_id]
