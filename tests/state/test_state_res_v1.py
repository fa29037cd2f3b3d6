"""State resolution v1 (room version 1): depth ordering and the pass structure."""

import hashlib

from tests.events.room_builder import CREATOR, DagRoom, standard_room

ALICE = "@alice:a.test"
BOB = "@bob:b.test"
PL = "m.room.power_levels"
TOPIC = ("m.room.topic", "")


def v1_room() -> DagRoom:
    room = standard_room("1", [ALICE, BOB], cls=DagRoom)
    room.power_levels(CREATOR, {CREATOR: 100, ALICE: 90})
    return room


def test_shallowest_power_levels_first_then_later_ones_only_if_allowed():
    room = v1_room()
    fork = room.last
    demote = room.add("demote", PL, CREATOR, {"users": {CREATOR: 100, ALICE: 0}}, "", prevs=fork)
    room.add("m1", "m.room.message", ALICE, {"body": "1"}, prevs=fork)
    deeper = room.add("alice_pl", PL, ALICE, {"users": {CREATOR: 100, ALICE: 90, BOB: 50}}, "")
    assert deeper.depth > demote.depth
    resolved = room.resolve([demote.event_id, deeper.event_id])
    # the demotion is shallower so it comes first, and then alice may not change levels
    assert resolved[(PL, "")] == demote.event_id


def test_deeper_power_levels_win_when_allowed():
    room = v1_room()
    fork = room.last
    first = room.add("pl_a", PL, CREATOR, {"users": {CREATOR: 100, ALICE: 90}, "ban": 60}, "", prevs=fork)
    room.add("m1", "m.room.message", ALICE, {"body": "1"}, prevs=fork)
    deeper = room.add("pl_b", PL, ALICE, {"users": {CREATOR: 100, ALICE: 90}, "ban": 70}, "")
    assert room.resolve([first.event_id, deeper.event_id])[(PL, "")] == deeper.event_id


def test_other_conflicts_pick_the_deepest_event_that_passes_auth():
    room = v1_room()
    fork = room.last
    shallow = room.add("t1", "m.room.topic", CREATOR, {"topic": "1"}, "", prevs=fork)
    room.add("m1", "m.room.message", ALICE, {"body": "1"}, prevs=fork)
    deep = room.add("t2", "m.room.topic", ALICE, {"topic": "2"}, "")
    assert room.resolve([shallow.event_id, deep.event_id])[TOPIC] == deep.event_id


def test_other_conflicts_skip_events_failing_auth_after_power_resolution():
    room = v1_room()
    fork = room.last
    demote = room.add("demote", PL, CREATOR, {"users": {CREATOR: 100, ALICE: 0}}, "", prevs=fork)
    topic = room.add("t1", "m.room.topic", CREATOR, {"topic": "1"}, "")
    room.add("m1", "m.room.message", ALICE, {"body": "1"}, prevs=fork)
    room.add("m2", "m.room.message", ALICE, {"body": "2"})
    alice_topic = room.add("t2", "m.room.topic", ALICE, {"topic": "2"}, "")
    assert alice_topic.depth > topic.depth
    resolved = room.resolve([topic.event_id, alice_topic.event_id])
    assert resolved[(PL, "")] == demote.event_id
    assert resolved[TOPIC] == topic.event_id


def test_equal_depth_ties_broken_by_sha1_of_event_id():
    room = v1_room()
    fork = room.last
    a = room.add("ta", "m.room.topic", CREATOR, {"topic": "a"}, "", prevs=fork)
    b = room.add("tb", "m.room.topic", CREATOR, {"topic": "b"}, "", prevs=fork)
    assert a.depth == b.depth
    lowest_sha1 = min((a, b), key=lambda e: hashlib.sha1(e.event_id.encode()).hexdigest())
    assert room.resolve([a.event_id, b.event_id])[TOPIC] == lowest_sha1.event_id


def test_when_no_conflicting_event_passes_the_shallowest_is_kept():
    room = v1_room()
    old_topic = room.send("m.room.topic", ALICE, {"topic": "0"}, "")
    fork = room.last
    demote = room.add("demote", PL, CREATOR, {"users": {CREATOR: 100, ALICE: 0}}, "", prevs=fork)
    new_topic = room.add("t1", "m.room.topic", ALICE, {"topic": "1"}, "", prevs=fork)
    resolved = room.resolve([demote.event_id, new_topic.event_id])
    assert resolved[(PL, "")] == demote.event_id
    assert resolved[TOPIC] == old_topic.event_id
