"""State resolution v2 (rooms v2-v11) and v2.1 (room v12) on forked histories."""

import pytest

from synapse.state import resolve_events
from tests.events.room_builder import CREATOR, DagRoom, MemoryStore, run, standard_room

ALICE = "@alice:a.test"
BOB = "@bob:b.test"
CAROL = "@carol:c.test"
EVE = "@eve:e.test"
MEMBER = "m.room.member"
PL = "m.room.power_levels"
TOPIC = ("m.room.topic", "")
V2_VERSIONS = ["2", "4", "6", "10", "11", "12"]


def room_with(version: str, members=(ALICE, BOB), **levels) -> DagRoom:
    """A public DAG room; `levels` are given to members (v12 creators need no entry)."""
    room = standard_room(version, members, cls=DagRoom)
    users = {} if room.room_version.privileged_creators else {CREATOR: 100}
    users.update(levels.pop("users", {}))
    room.power_levels(CREATOR, users, **levels)
    return room


def users(room: DagRoom, extra: dict) -> dict:
    base = {} if room.room_version.privileged_creators else {CREATOR: 100}
    return {**base, **extra}


@pytest.mark.parametrize("version", ["1", *V2_VERSIONS])
def test_ban_beats_concurrent_membership_change(version):
    room = room_with(version)
    fork = room.last
    ban = room.add("ban", MEMBER, CREATOR, {"membership": "ban"}, BOB, prevs=fork)
    rename = room.add("rename", MEMBER, BOB, {"membership": "join", "displayname": "B"}, BOB, prevs=fork, ts=10**9)
    resolved = room.resolve([ban.event_id, rename.event_id])
    assert resolved[(MEMBER, BOB)] == ban.event_id
    assert room.resolve([rename.event_id, ban.event_id]) == resolved


@pytest.mark.parametrize("version", ["1", *V2_VERSIONS])
def test_demotion_beats_concurrent_topic_change(version):
    room = room_with(version, users={ALICE: 50})
    topic1 = room.send("m.room.topic", CREATOR, {"topic": "one"}, "")
    fork = room.last
    demote = room.add("demote", PL, CREATOR, {"users": users(room, {ALICE: 0})}, "", prevs=fork)
    topic2 = room.add("topic2", "m.room.topic", ALICE, {"topic": "two"}, "", prevs=fork, ts=10**9)
    resolved = room.resolve([demote.event_id, topic2.event_id])
    assert resolved[(PL, "")] == demote.event_id
    assert resolved[TOPIC] == topic1.event_id


@pytest.mark.parametrize("version", V2_VERSIONS)
def test_mainline_position_beats_timestamp(version):
    room = room_with(version)
    fork = room.last
    old_based = room.add("topicA", "m.room.topic", CREATOR, {"topic": "A"}, "", prevs=fork, ts=10**9)
    new_pl = room.add("pl2", PL, CREATOR, {"users": users(room, {ALICE: 10})}, "", prevs=fork, ts=5)
    new_based = room.add("topicB", "m.room.topic", CREATOR, {"topic": "B"}, "", prevs=[new_pl.event_id], ts=6)
    resolved = room.resolve([old_based.event_id, new_based.event_id])
    assert resolved[TOPIC] == new_based.event_id
    assert resolved[(PL, "")] == new_pl.event_id


@pytest.mark.parametrize("version", V2_VERSIONS)
def test_same_mainline_position_later_timestamp_wins(version):
    room = room_with(version)
    fork = room.last
    early = room.add("early", "m.room.topic", CREATOR, {"topic": "early"}, "", prevs=fork, ts=100)
    late = room.add("late", "m.room.topic", CREATOR, {"topic": "late"}, "", prevs=fork, ts=200)
    assert room.resolve([late.event_id, early.event_id])[TOPIC] == late.event_id
    assert room.resolve([early.event_id, late.event_id])[TOPIC] == late.event_id


@pytest.mark.parametrize("version", V2_VERSIONS)
def test_equal_timestamps_fall_back_to_event_id(version):
    room = room_with(version)
    fork = room.last
    first = room.add("aaa", "m.room.topic", CREATOR, {"topic": "a"}, "", prevs=fork, ts=100)
    second = room.add("bbb", "m.room.topic", CREATOR, {"topic": "b"}, "", prevs=fork, ts=100)
    # both apply in order of event id; the last applied stays
    assert room.resolve([first.event_id, second.event_id])[TOPIC] == second.event_id


@pytest.mark.parametrize("version", V2_VERSIONS)
def test_higher_power_sender_is_ordered_first(version):
    room = room_with(version, users={ALICE: 90}, events={PL: 90})
    fork = room.last
    by_creator = room.add(
        "by_creator",
        PL,
        CREATOR,
        {"users": users(room, {ALICE: 90}), "events": {PL: 90}, "ban": 70},
        "",
        prevs=fork,
        ts=500,
    )
    by_alice = room.add(
        "by_alice",
        PL,
        ALICE,
        {"users": users(room, {ALICE: 90}), "events": {PL: 90}, "ban": 60},
        "",
        prevs=fork,
        ts=100,
    )
    # the creator's change sorts first for power, despite the later timestamp;
    # alice's change is still allowed on top of it, so it is applied last
    resolved = room.resolve([by_creator.event_id, by_alice.event_id])
    assert resolved[(PL, "")] == by_alice.event_id


@pytest.mark.parametrize("version", V2_VERSIONS)
def test_join_rule_change_beats_concurrent_join(version):
    room = room_with(version)
    fork = room.last
    lock = room.add("lock", "m.room.join_rules", CREATOR, {"join_rule": "invite"}, "", prevs=fork)
    join = room.add("evejoin", MEMBER, EVE, {"membership": "join"}, EVE, prevs=fork)
    resolved = room.resolve([lock.event_id, join.event_id])
    assert resolved[("m.room.join_rules", "")] == lock.event_id
    assert (MEMBER, EVE) not in resolved


def test_v1_keeps_a_join_that_only_one_side_has():
    # the same race in room v1: a key present in one state set is not a conflict
    room = room_with("1")
    fork = room.last
    lock = room.add("lock", "m.room.join_rules", CREATOR, {"join_rule": "invite"}, "", prevs=fork)
    join = room.add("evejoin", MEMBER, EVE, {"membership": "join"}, EVE, prevs=fork)
    assert room.resolve([lock.event_id, join.event_id])[(MEMBER, EVE)] == join.event_id


@pytest.mark.parametrize("version", V2_VERSIONS)
def test_kick_then_rejoin_on_other_branch(version):
    room = room_with(version, users={ALICE: 50})
    fork = room.last
    kick = room.add("kick", MEMBER, ALICE, {"membership": "leave"}, BOB, prevs=fork)
    demote = room.add("demote", PL, CREATOR, {"users": users(room, {ALICE: 0})}, "", prevs=fork)
    # the creator outranks alice, so the demotion is applied before the kick,
    # which then fails: bob stays in the room
    resolved = room.resolve([kick.event_id, demote.event_id])
    assert resolved[(PL, "")] == demote.event_id
    assert resolved[(MEMBER, BOB)] != kick.event_id


def crafted_state_sets(version: str):
    """A ban whose authority was revoked, and a state set that already holds the revocation.

    S1 = state after alice bans carol, but with the power levels that demote
    alice; S2 = state after the demotion. Only carol's membership differs.
    """
    room = room_with(version, members=(ALICE, BOB, CAROL), users={ALICE: 50})
    fork = room.last
    ban = room.add("ban", MEMBER, ALICE, {"membership": "ban"}, CAROL, prevs=fork)
    demote = room.add("demote", PL, CREATOR, {"users": users(room, {ALICE: 0})}, "", prevs=fork)
    s1 = dict(room.state_after[ban.event_id])
    s1[(PL, "")] = demote.event_id
    s2 = room.state_after[demote.event_id]
    return room, ban, [s1, s2]


def test_v2_authorises_conflicted_power_events_against_unconflicted_state():
    room, ban, state_sets = crafted_state_sets("11")
    resolved = run(resolve_events(room.room_version, state_sets, None, MemoryStore(room.events)))
    assert resolved[(MEMBER, CAROL)] == state_sets[1][(MEMBER, CAROL)]


def test_v2_1_starts_from_empty_state():
    room, ban, state_sets = crafted_state_sets("12")
    resolved = run(resolve_events(room.room_version, state_sets, None, MemoryStore(room.events)))
    assert resolved[(MEMBER, CAROL)] == ban.event_id
    assert resolved[(PL, "")] == state_sets[0][(PL, "")]


@pytest.mark.parametrize("version", ["1", *V2_VERSIONS])
def test_identical_state_sets_need_no_store(version):
    room = room_with(version)
    store = MemoryStore({})
    state = room.state_after[room.last[0]]
    assert run(resolve_events(room.room_version, [state, dict(state)], None, store)) == state
    assert store.calls == 0


@pytest.mark.parametrize("version", V2_VERSIONS)
def test_events_come_from_event_map_before_store_and_are_fetched_once(version):
    room = room_with(version, members=(ALICE, BOB, CAROL))
    fork = room.last
    a = room.add("ta", "m.room.topic", CREATOR, {"topic": "a"}, "", prevs=fork, ts=1)
    b = room.add("tb", "m.room.topic", CREATOR, {"topic": "b"}, "", prevs=fork, ts=2)
    asked: list[str] = []

    class RecordingStore(MemoryStore):
        async def get_events(self, event_ids):
            asked.extend(event_ids)
            return await super().get_events(event_ids)

    in_flight = {b.event_id: b}
    persisted = {k: v for k, v in room.events.items() if k != b.event_id}
    states = [room.state_after[a.event_id], room.state_after[b.event_id]]
    resolved = run(resolve_events(room.room_version, states, in_flight, RecordingStore(persisted)))
    assert resolved[TOPIC] == b.event_id
    assert b.event_id not in asked
    assert len(asked) == len(set(asked))


def test_key_missing_from_one_state_set_is_resolved_in():
    room = room_with("10")
    fork = room.last
    message = room.add("msg", "m.room.message", BOB, {"body": "hi"}, prevs=fork)
    named = room.add("name", "m.room.name", CREATOR, {"name": "n"}, "", prevs=fork)
    resolved = room.resolve([message.event_id, named.event_id])
    assert resolved[("m.room.name", "")] == named.event_id


@pytest.mark.parametrize("version", V2_VERSIONS)
def test_three_way_fork(version):
    room = room_with(version, members=(ALICE, BOB, CAROL), users={ALICE: 50, BOB: 50})
    fork = room.last
    t_alice = room.add("t_alice", "m.room.topic", ALICE, {"topic": "alice"}, "", prevs=fork, ts=3)
    demote_bob = room.add("demote_bob", PL, CREATOR, {"users": users(room, {ALICE: 50})}, "", prevs=fork, ts=1)
    t_bob = room.add("t_bob", "m.room.topic", BOB, {"topic": "bob"}, "", prevs=fork, ts=4)
    resolved = room.resolve([t_alice.event_id, demote_bob.event_id, t_bob.event_id])
    assert resolved[(PL, "")] == demote_bob.event_id
    # bob's later topic is rejected after his demotion; alice's stands
    assert resolved[TOPIC] == t_alice.event_id


@pytest.mark.parametrize("version", V2_VERSIONS)
def test_superseded_power_event_in_auth_difference_authorises_its_successor(version):
    room = room_with(version, users={ALICE: 0})
    fork = room.last
    room.add("pl2", PL, CREATOR, {"users": users(room, {ALICE: 50})}, "", prevs=fork)
    pl3 = room.send(PL, ALICE, {"users": users(room, {ALICE: 50, BOB: 50})}, "")
    other = room.add("topic", "m.room.topic", CREATOR, {"topic": "t"}, "", prevs=fork)
    # pl2 is in no state set, only in one branch's auth chain; without it
    # alice's pl3 would be checked against the old levels and fail
    resolved = room.resolve([pl3.event_id, other.event_id])
    assert resolved[(PL, "")] == pl3.event_id


@pytest.mark.parametrize("version", ["11", "12"])
def test_events_between_conflicted_events_are_replayed(version):
    room = room_with(version, users={ALICE: 50})
    rename = room.send(MEMBER, ALICE, {"membership": "join", "displayname": "J"}, ALICE, ts=5000)
    alice_pl = room.send(PL, ALICE, {"users": users(room, {ALICE: 50}), "ban": 40}, "", ts=5001)
    later = room.send(MEMBER, ALICE, {"membership": "join", "displayname": "L"}, ALICE, ts=10)
    # alice's power levels lie on the auth path from `later` to `rename`: in
    # v2.1 that conflicted subgraph is replayed, which orders `rename` first
    # even though its timestamp is later
    resolved = room.resolve([later.event_id, alice_pl.event_id])
    assert room.state_after[alice_pl.event_id][(MEMBER, ALICE)] == rename.event_id
    assert resolved[(MEMBER, ALICE)] == later.event_id
