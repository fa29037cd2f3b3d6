"""The auth graph walks used by state resolution v2."""

from synapse.state.auth_chain import (
    auth_event_ids,
    conflicted_subgraph,
    load_auth_graph,
    nearest_cited_within,
    reachable,
)
from synapse.state.store import EventFetcher
from tests.events.room_builder import CREATOR, MemoryStore, run, standard_room

GRAPH = {
    "c1": ["x", "y"],
    "x": ["c2"],
    "c2": ["root"],
    "y": ["root"],
    "root": [],
    "c3": ["root"],
}


def test_reachable_includes_starts():
    assert reachable(GRAPH, ["x"]) == {"x", "c2", "root"}
    assert reachable(GRAPH, ["unknown"]) == set()


def test_conflicted_subgraph_keeps_paths_between_conflicted_events():
    assert conflicted_subgraph(GRAPH, {"c1", "c2"}) == {"c1", "x", "c2"}
    assert conflicted_subgraph(GRAPH, {"c1", "c3"}) == {"c1", "c3"}
    assert conflicted_subgraph(GRAPH, {"c1", "root"}) == {"c1", "x", "c2", "y", "root"}


def test_nearest_cited_within_skips_non_members():
    assert nearest_cited_within(GRAPH, {"c1", "c2", "root"}) == {"c1": {"c2", "root"}, "c2": {"root"}, "root": set()}


def test_deep_chains_do_not_recurse():
    graph = {f"e{i}": [f"e{i - 1}"] if i else [] for i in range(20000)}
    assert conflicted_subgraph(graph, {"e19999", "e0"}) == set(graph)


def test_load_auth_graph_batches_by_generation_and_drops_unknown_events():
    room = standard_room("10", ["@alice:a.test"])
    message = room.build("m.room.message", "@alice:a.test", {})
    events = dict(room.events)
    events[message.event_id] = message
    store = MemoryStore(events)
    graph = run(load_auth_graph([message.event_id, "$unknown"], EventFetcher(None, store)))
    assert set(graph[message.event_id]) == set(message.auth_event_ids())
    assert "$unknown" not in graph
    # create <- creator join <- power levels <- alice join <- message: one call per generation
    assert store.calls <= 5


def test_v12_events_cite_the_create_event_implicitly():
    room = standard_room("12", ["@alice:a.test"])
    message = room.build("m.room.message", "@alice:a.test", {})
    assert room.create.event_id not in message.auth_event_ids()
    assert room.create.event_id in auth_event_ids(message)
    assert auth_event_ids(room.create) == []
    assert room.create.sender == CREATOR
