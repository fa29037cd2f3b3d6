"""The auth graph: events linked to the events that authorised them.

State resolution v2 reasons about auth chains (everything reachable over
`auth_events` edges). The graph is loaded once per resolution, one store
batch per generation, and every question is then answered in memory by
iterative walks (room histories are too deep for recursion).
"""

from collections.abc import Collection, Iterable, Iterator

from synapse.events.model import FrozenEvent
from synapse.state.store import EventFetcher

AuthGraph = dict[str, list[str]]


def create_event_id_for_room(room_id: str) -> str:
    """v12 room ids are the create event's id with the sigil swapped (MSC4291)."""
    return "$" + room_id[1:]


def auth_event_ids(event: FrozenEvent) -> list[str]:
    """The event's auth events, plus in v12 the create event its room id names.

    v12 events leave the create event out of `auth_events`, but it still
    authorises them, so the graph keeps the edge.
    """
    ids = event.auth_event_ids()
    if event.room_version.room_id_from_create_event and event.type != "m.room.create":
        create_id = create_event_id_for_room(event.room_id)
        if create_id not in ids:
            ids = [*ids, create_id]
    return ids


async def load_auth_graph(event_ids: Iterable[str], fetcher: EventFetcher) -> AuthGraph:
    """The auth graph above `event_ids`, back to the room's create event.

    Only events the fetcher could find become nodes; edges to unknown
    events are dropped.
    """
    graph: AuthGraph = {}
    frontier = set(event_ids)
    while frontier:
        events = await fetcher.get_many(frontier)
        next_frontier: set[str] = set()
        for event_id, event in events.items():
            parents = auth_event_ids(event)
            graph[event_id] = parents
            next_frontier.update(parents)
        frontier = next_frontier - graph.keys()
    return {event_id: [p for p in parents if p in graph] for event_id, parents in graph.items()}


def reachable(graph: AuthGraph, starts: Iterable[str]) -> set[str]:
    """`starts` (those in the graph) and their whole auth chains."""
    seen = {s for s in starts if s in graph}
    stack = list(seen)
    while stack:
        for parent in graph[stack.pop()]:
            if parent not in seen:
                seen.add(parent)
                stack.append(parent)
    return seen


def _postorder(graph: AuthGraph, starts: Iterable[str]) -> Iterator[str]:
    """Nodes reachable from `starts`, each after all of its auth events."""
    done: set[str] = set()
    for start in starts:
        if start in done or start not in graph:
            continue
        stack = [(start, iter(graph[start]))]
        done.add(start)
        while stack:
            node, parents = stack[-1]
            for parent in parents:
                if parent not in done:
                    done.add(parent)
                    stack.append((parent, iter(graph[parent])))
                    break
            else:
                stack.pop()
                yield node


def conflicted_subgraph(graph: AuthGraph, conflicted: Collection[str]) -> set[str]:
    """Events on an auth path between two conflicted events, endpoints included.

    An event is on such a path when a conflicted event reaches it and it
    reaches a conflicted event (state resolution v2.1, MSC4297).
    """
    conflicted = set(conflicted)
    reaches_conflicted: dict[str, bool] = {}
    for node in _postorder(graph, conflicted):
        reaches_conflicted[node] = any(p in conflicted or reaches_conflicted[p] for p in graph[node])
    return {n for n, reaches in reaches_conflicted.items() if reaches or n in conflicted}


def nearest_cited_within(graph: AuthGraph, nodes: Collection[str]) -> dict[str, set[str]]:
    """For each of `nodes`, the members of `nodes` its auth chain reaches first.

    These are the ordering constraints between `nodes` even where the auth
    path between two of them leaves the set.
    """
    members = set(nodes)
    found: dict[str, set[str]] = {}
    for node in _postorder(graph, members):
        cited: set[str] = set()
        for parent in graph[node]:
            if parent in members:
                cited.add(parent)
            else:
                cited |= found[parent]
        found[node] = cited
    return {n: found[n] for n in members if n in found}
