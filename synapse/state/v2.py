"""State resolution v2 (room versions 2-11) and v2.1 (room version 12).

Follows the algorithm in the spec's room version 2 and 12 pages:

1. split the state sets into unconflicted and conflicted state;
2. the full conflicted set is the conflicted events, the auth difference
   and (v2.1) the conflicted state subgraph;
3. power events and their auth chains within that set are ordered by the
   reverse topological power ordering and authorised one by one, starting
   from the unconflicted state (v2) or from nothing (v2.1);
4. the other events are ordered by mainline position against the resulting
   power levels and authorised on top;
5. the unconflicted state is laid over the result.
"""

import heapq
from collections.abc import Iterable, Sequence
from typing import Optional

from synapse.api.errors import EventAuthError
from synapse.events.auth import auth_types_for_event, check_auth_rules_for_event
from synapse.events.model import FrozenEvent
from synapse.events.power_levels import CREATE_KEY, POWER_LEVELS_KEY, StateKey, get_user_power_level
from synapse.events.room_versions import RoomVersion, StateResolutionVersion
from synapse.state.auth_chain import (
    AuthGraph,
    auth_event_ids,
    conflicted_subgraph,
    load_auth_graph,
    nearest_cited_within,
    reachable,
)
from synapse.state.store import EventFetcher, StateMap, StateResolutionStore


async def resolve_v2(
    room_version: RoomVersion,
    state_sets: Sequence[StateMap],
    event_map: Optional[dict[str, FrozenEvent]],
    store: StateResolutionStore,
) -> StateMap:
    unconflicted, conflicted = separate(state_sets)
    if not conflicted:
        return unconflicted
    is_v2_1 = room_version.state_res == StateResolutionVersion.V2_1
    fetcher = EventFetcher(event_map, store)

    all_state_ids = {event_id for state in state_sets for event_id in state.values()}
    graph = await load_auth_graph(all_state_ids, fetcher)
    chains = [reachable(graph, state.values()) for state in state_sets]
    auth_difference = set.union(*chains) - set.intersection(*chains)

    conflicted_ids = {event_id for ids in conflicted.values() for event_id in ids}
    full_conflicted = conflicted_ids | auth_difference
    if is_v2_1:
        full_conflicted |= conflicted_subgraph(graph, conflicted_ids)
    full_conflicted = {e for e in full_conflicted if e in graph}

    power_events = {e for e in full_conflicted if is_power_event(fetcher.cached(e))}
    power_and_chains = reachable(graph, power_events) & full_conflicted
    sorted_power = await _reverse_topological_power_sort(power_and_chains, graph, fetcher)

    base: StateMap = {} if is_v2_1 else dict(unconflicted)
    resolved = await _iterative_auth_checks(room_version, sorted_power, base, fetcher)

    others = full_conflicted - power_and_chains
    sorted_others = _mainline_sort(others, resolved.get(POWER_LEVELS_KEY), graph, fetcher)
    resolved = await _iterative_auth_checks(room_version, sorted_others, resolved, fetcher)

    resolved.update(unconflicted)
    return resolved


def separate(state_sets: Sequence[StateMap]) -> tuple[StateMap, dict[StateKey, set[str]]]:
    """Unconflicted state (same event in every set) and the conflicted rest.

    A key missing from some set is conflicted, as the spec's definition
    requires the key in every state map.
    """
    unconflicted: StateMap = {}
    conflicted: dict[StateKey, set[str]] = {}
    keys = {key for state in state_sets for key in state}
    for key in keys:
        values = {state.get(key) for state in state_sets}
        if len(values) == 1 and None not in values:
            unconflicted[key] = values.pop()  # type: ignore[assignment]
        else:
            conflicted[key] = {v for v in values if v is not None}
    return unconflicted, conflicted


def is_power_event(event: FrozenEvent) -> bool:
    """Power levels, join rules, and kicks or bans: events that can take abilities away."""
    if (event.type, event.state_key) in (POWER_LEVELS_KEY, ("m.room.join_rules", "")):
        return True
    return event.type == "m.room.member" and event.membership in ("leave", "ban") and event.state_key != event.sender


async def _auth_events_of(event: FrozenEvent, fetcher: EventFetcher) -> dict[StateKey, FrozenEvent]:
    """The event's own auth events (v12: with the create event) by key, rejected ones left out."""
    found = await fetcher.get_many(auth_event_ids(event))
    return {
        (a.type, a.state_key or ""): a
        for a in found.values()
        if a.state_key is not None and a.internal_metadata.rejected_reason is None
    }


async def _reverse_topological_power_sort(event_ids: set[str], graph: AuthGraph, fetcher: EventFetcher) -> list[str]:
    """Kahn's algorithm over the auth DAG, earliest first, ties broken by
    higher sender power, then lower origin_server_ts, then lower event id."""
    cites = nearest_cited_within(graph, event_ids)
    cited_by: dict[str, list[str]] = {e: [] for e in event_ids}
    for event_id, parents in cites.items():
        for parent in parents:
            cited_by[parent].append(event_id)

    sort_key: dict[str, tuple[int, int, str]] = {}
    for event_id in event_ids:
        event = fetcher.cached(event_id)
        level = get_user_power_level(event.sender, await _auth_events_of(event, fetcher))
        sort_key[event_id] = (-level, event.origin_server_ts, event_id)

    remaining = {e: len(cites.get(e, ())) for e in event_ids}
    ready = [sort_key[e] for e, count in remaining.items() if count == 0]
    heapq.heapify(ready)
    ordered: list[str] = []
    while ready:
        event_id = heapq.heappop(ready)[2]
        ordered.append(event_id)
        for child in cited_by[event_id]:
            remaining[child] -= 1
            if remaining[child] == 0:
                heapq.heappush(ready, sort_key[child])
    return ordered


async def _iterative_auth_checks(
    room_version: RoomVersion, event_ids: Iterable[str], state: StateMap, fetcher: EventFetcher
) -> StateMap:
    """Apply each event to a copy of `state` if the auth rules allow it there.

    The rules see the state's entries for the keys they need, falling back
    to the event's own (non-rejected) auth events for keys the state lacks.
    """
    state = dict(state)
    for event_id in event_ids:
        event = fetcher.cached(event_id)
        auth_events = await _auth_events_of(event, fetcher)
        keys = auth_types_for_event(room_version, event)
        from_state = await fetcher.get_many(state[k] for k in keys if k in state)
        for key in keys:
            state_event = from_state.get(state.get(key, ""))
            if state_event is not None and state_event.internal_metadata.rejected_reason is None:
                auth_events[key] = state_event
        try:
            check_auth_rules_for_event(event, auth_events, auth_events.get(CREATE_KEY))
        except EventAuthError:
            continue
        state[(event.type, event.state_key or "")] = event_id
    return state


def _power_levels_cited(event_id: str, graph: AuthGraph, fetcher: EventFetcher) -> Optional[str]:
    """The power levels event among an event's auth events, if any."""
    for parent in graph.get(event_id, ()):
        cited = fetcher.cached(parent)
        if (cited.type, cited.state_key) == POWER_LEVELS_KEY:
            return parent
    return None


def _mainline_sort(
    event_ids: set[str], power_levels_id: Optional[str], graph: AuthGraph, fetcher: EventFetcher
) -> list[str]:
    """Order events by how early in the mainline of `power_levels_id` their
    power levels chain joins it, then origin_server_ts, then event id."""
    if not event_ids:
        return []
    mainline: list[str] = []
    current = power_levels_id if power_levels_id in graph else None
    while current is not None:
        mainline.append(current)
        current = _power_levels_cited(current, graph, fetcher)
    # Numbered from the room's first power levels upwards, so the oldest
    # sorts first; events that reach no mainline event get 0.
    depth_of = {event_id: len(mainline) - i for i, event_id in enumerate(mainline)}

    def mainline_depth(event_id: str) -> int:
        walked: list[str] = []
        current = _power_levels_cited(event_id, graph, fetcher)
        depth = 0
        while current is not None:
            if current in depth_of:
                depth = depth_of[current]
                break
            walked.append(current)
            current = _power_levels_cited(current, graph, fetcher)
        for power_levels in walked:
            depth_of[power_levels] = depth
        return depth

    keys = {}
    for event_id in event_ids:
        event = fetcher.cached(event_id)
        keys[event_id] = (mainline_depth(event_id), event.origin_server_ts, event_id)
    return sorted(event_ids, key=keys.__getitem__)
