"""State resolution v1 (room version 1).

Known to reset state in some cases (the spec says so); kept because v1
rooms still exist. Keys present in only some state sets are not
conflicts. Conflicts are resolved in passes: power levels, then join rules,
then memberships, each pass authorising against what the earlier ones
chose, then everything else.
"""

import hashlib
from collections.abc import Sequence
from typing import Optional

from synapse.api.errors import EventAuthError
from synapse.events.auth import auth_types_for_event, check_auth_rules_for_event
from synapse.events.model import FrozenEvent
from synapse.events.power_levels import POWER_LEVELS_KEY, StateKey
from synapse.events.room_versions import RoomVersion
from synapse.state.store import EventFetcher, StateMap, StateResolutionStore


async def resolve_v1(
    room_version: RoomVersion,
    state_sets: Sequence[StateMap],
    event_map: Optional[dict[str, FrozenEvent]],
    store: StateResolutionStore,
) -> StateMap:
    unconflicted: StateMap = {}
    conflicted_ids: dict[StateKey, set[str]] = {}
    for key in {key for state in state_sets for key in state}:
        values = {state[key] for state in state_sets if key in state}
        if len(values) == 1:
            unconflicted[key] = values.pop()
        else:
            conflicted_ids[key] = values
    if not conflicted_ids:
        return unconflicted

    fetcher = EventFetcher(event_map, store)
    found = await fetcher.get_many(e for ids in conflicted_ids.values() for e in ids)
    conflicted = {key: [found[e] for e in ids if e in found] for key, ids in conflicted_ids.items()}
    auth_keys = {k for events in conflicted.values() for e in events for k in auth_types_for_event(room_version, e)}
    auth_found = await fetcher.get_many(unconflicted[k] for k in auth_keys if k in unconflicted)
    auth_state = {k: auth_found[unconflicted[k]] for k in auth_keys if unconflicted.get(k) in auth_found}

    chosen: dict[StateKey, FrozenEvent] = {}
    passes = (
        lambda key: key == POWER_LEVELS_KEY,
        lambda key: key[0] == "m.room.join_rules",
        lambda key: key[0] == "m.room.member",
    )
    for in_pass in passes:
        for key, events in conflicted.items():
            if in_pass(key) and events:
                chosen[key] = _resolve_auth_conflict(events, auth_state)
        auth_state.update(chosen)
    for key, events in conflicted.items():
        if key not in chosen and events:
            chosen[key] = _resolve_other_conflict(events, auth_state)

    resolved = dict(unconflicted)
    resolved.update({key: event.event_id for key, event in chosen.items()})
    return resolved


def _order_key(event: FrozenEvent) -> tuple[int, str]:
    """Sorts by ascending depth, then descending sha1 of the event id."""
    digest = hashlib.sha1(event.event_id.encode("utf-8")).hexdigest()
    inverted = "".join("0123456789abcdef"[15 - int(c, 16)] for c in digest)
    return event.depth, inverted


def _resolve_auth_conflict(events: list[FrozenEvent], auth_state: dict[StateKey, FrozenEvent]) -> FrozenEvent:
    """Take the earliest event, then each later one while the one before allows it."""
    ordered = sorted(events, key=_order_key)
    state = dict(auth_state)
    accepted = ordered[0]
    for event in ordered[1:]:
        state[(accepted.type, accepted.state_key or "")] = accepted
        try:
            check_auth_rules_for_event(event, state)
        except EventAuthError:
            break
        accepted = event
    return accepted


def _resolve_other_conflict(events: list[FrozenEvent], auth_state: dict[StateKey, FrozenEvent]) -> FrozenEvent:
    """The deepest (then lowest sha1) event that passes auth; the shallowest if none does."""
    ordered = sorted(events, key=_order_key, reverse=True)
    for event in ordered:
        try:
            check_auth_rules_for_event(event, auth_state)
            return event
        except EventAuthError:
            continue
    return ordered[-1]
