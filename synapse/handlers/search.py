"""POST /search (CS API "Server Side Search"): the `room_events` category.

The rooms searched are those the user is joined to or has left (or was
banned from), narrowed by the request's RoomEventFilter; every result then
goes through history visibility, so a former member finds only what they
were allowed to see. Matching and ranking are the search store's
(synapse/storage/stores/search.py).

`next_batch` is opaque to clients: `r<offset>` in rank order, `s<stream>`
(only events persisted before that position) in recent order. Optional
parts: `event_context` (neighbouring events, with sender profiles),
`include_state` (current state of the rooms with results) and `groupings`
(by room_id or sender).
"""

from typing import TYPE_CHECKING, Any, Optional

import attrs

from synapse.api.errors import Codes, SynapseError
from synapse.api.filtering import DEFAULT_FILTER_COLLECTION, MAX_FILTER_LIMIT, Filter, check_event_filter
from synapse.events.model import FrozenEvent
from synapse.handlers.relations import apply_bundled_aggregations
from synapse.storage.stores.search import SEARCH_KEYS, parse_query
from synapse.storage.stores.stream import token_after, token_before
from synapse.types import Requester

if TYPE_CHECKING:
    from synapse.server import HomeServer

JsonDict = dict[str, Any]

DEFAULT_SEARCH_LIMIT = 10
DEFAULT_CONTEXT_LIMIT = 5
_GROUP_KEYS = ("room_id", "sender")


def _bad(msg: str, errcode: str = Codes.BAD_JSON) -> SynapseError:
    return SynapseError(400, msg, errcode)


@attrs.frozen
class RoomEventsCriteria:
    """A validated `search_categories.room_events` object."""

    search_term: str
    keys: list[str]
    event_filter: Filter
    order_by: str
    before_limit: int
    after_limit: int
    include_profile: bool
    with_context: bool
    include_state: bool
    group_by: list[str]


def _non_negative_int(value: Any, name: str, default: int) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _bad(f"{name} must be a non-negative integer")
    return value


def parse_room_events(body: Any) -> RoomEventsCriteria:
    """Validates the `room_events` criteria: M_BAD_JSON for wrong types,
    M_INVALID_PARAM for values outside what the spec allows."""
    if not isinstance(body, dict):
        raise _bad("room_events must be an object")
    term = body.get("search_term")
    if not isinstance(term, str):
        raise _bad("room_events.search_term must be a string")
    keys = body.get("keys", list(SEARCH_KEYS))
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise _bad("room_events.keys must be a list of strings")
    unknown = [k for k in keys if k not in SEARCH_KEYS]
    if unknown:
        raise _bad(f"Unknown search keys {unknown}; allowed: {list(SEARCH_KEYS)}", Codes.INVALID_PARAM)
    filter_json = body.get("filter") or {}
    check_event_filter(filter_json, "filter", room_filter=True)
    order_by = body.get("order_by", "rank")
    if order_by not in ("rank", "recent"):
        raise _bad("order_by must be 'rank' or 'recent'", Codes.INVALID_PARAM)
    context = body.get("event_context")
    if context is not None and not isinstance(context, dict):
        raise _bad("event_context must be an object")
    context = context or {}
    include_profile = context.get("include_profile", False)
    include_state = body.get("include_state", False)
    if not isinstance(include_profile, bool) or not isinstance(include_state, bool):
        raise _bad("include_profile and include_state must be booleans")
    groupings = body.get("groupings") or {}
    group_list = groupings.get("group_by", []) if isinstance(groupings, dict) else None
    if not isinstance(group_list, list) or not all(isinstance(g, dict) for g in group_list):
        raise _bad("groupings.group_by must be a list of objects")
    group_by = [g.get("key") for g in group_list]
    if any(key not in _GROUP_KEYS for key in group_by):
        raise _bad("groupings keys must be 'room_id' or 'sender'", Codes.INVALID_PARAM)
    return RoomEventsCriteria(
        search_term=term,
        keys=keys,
        event_filter=Filter(filter_json),
        order_by=order_by,
        before_limit=_non_negative_int(context.get("before_limit"), "before_limit", DEFAULT_CONTEXT_LIMIT),
        after_limit=_non_negative_int(context.get("after_limit"), "after_limit", DEFAULT_CONTEXT_LIMIT),
        include_profile=include_profile,
        with_context="event_context" in body,
        include_state=include_state,
        group_by=[str(k) for k in group_by],
    )


def parse_next_batch(token: Optional[str], order_by: str) -> tuple[int, Optional[int]]:
    """(offset, before_stream) from a next_batch token; 400 M_UNKNOWN if it is not ours."""
    if token is None:
        return 0, None
    prefix = "r" if order_by == "rank" else "s"
    try:
        if not token.startswith(prefix):
            raise ValueError(token)
        value = int(token[1:])
        if value < 0:
            raise ValueError(token)
    except ValueError:
        raise SynapseError(400, f"Invalid next_batch token {token!r}", Codes.UNKNOWN) from None
    return (value, None) if order_by == "rank" else (0, value)


class SearchHandler:
    def __init__(self, hs: "HomeServer") -> None:
        self._hs = hs

    def _serialize(self, requester: Requester, events: list[FrozenEvent]) -> list[JsonDict]:
        return DEFAULT_FILTER_COLLECTION.format_events(
            events,
            self._hs.clock.time_msec(),
            requester_user_id=requester.user_id,
            requester_device_id=requester.device_id,
        )

    async def search(self, requester: Requester, body: Any, next_batch: Optional[str] = None) -> JsonDict:
        """The whole POST /search answer."""
        if not isinstance(body, dict) or not isinstance(body.get("search_categories"), dict):
            raise _bad("search_categories must be an object")
        categories = body["search_categories"]
        if "room_events" not in categories:
            return {"search_categories": {}}
        criteria = parse_room_events(categories["room_events"])
        offset, before_stream = parse_next_batch(next_batch, criteria.order_by)
        return {
            "search_categories": {"room_events": await self._room_events(requester, criteria, offset, before_stream)}
        }

    async def _room_events(
        self, requester: Requester, criteria: RoomEventsCriteria, offset: int, before_stream: Optional[int]
    ) -> JsonDict:
        user_id = requester.user_id
        stores = self._hs.stores
        memberships = await stores.members.get_rooms_for_user(user_id, ("join", "leave", "ban"))
        event_filter = criteria.event_filter
        room_ids = event_filter.filter_rooms(sorted({m.room_id for m in memberships}))
        limit = min(event_filter.limit or DEFAULT_SEARCH_LIMIT, MAX_FILTER_LIMIT)
        page = await stores.search.search(
            room_ids,
            criteria.search_term,
            keys=criteria.keys,
            event_filter=event_filter,
            order_by=criteria.order_by,
            limit=limit,
            offset=offset,
            before_stream=before_stream,
        )
        matched = [event for event, _ in page.results if event_filter.check(event)]
        visible = await self._hs.visibility.filter_events_for_client(user_id, matched)
        ranks = {event.event_id: rank for event, rank in page.results}

        serialized = self._serialize(requester, visible)
        aggregations = await self._hs.relations_handler.get_bundled_aggregations(visible, user_id)
        apply_bundled_aggregations(serialized, aggregations)
        results: list[JsonDict] = []
        for event, event_json in zip(visible, serialized):
            entry: JsonDict = {"rank": ranks[event.event_id], "result": event_json}
            if criteria.with_context:
                entry["context"] = await self._context(requester, event, criteria)
            results.append(entry)

        response: JsonDict = {
            "count": page.count,
            "highlights": parse_query(criteria.search_term).words(),
            "results": results,
        }
        if criteria.order_by == "rank" and offset + page.rows < page.count:
            response["next_batch"] = f"r{offset + page.rows}"
        elif criteria.order_by == "recent" and page.rows == limit and page.last_stream is not None:
            response["next_batch"] = f"s{page.last_stream}"
        if criteria.include_state:
            response["state"] = await self._room_state(requester, sorted({e.room_id for e in visible}))
        if criteria.group_by:
            response["groups"] = _groups(visible, criteria.group_by)
        return response

    async def _context(self, requester: Requester, event: FrozenEvent, criteria: RoomEventsCriteria) -> JsonDict:
        """Events around one result (visible ones), and optionally their senders' profiles there."""
        stream = self._hs.stores.stream
        visibility = self._hs.visibility
        before: list[FrozenEvent] = []
        after: list[FrozenEvent] = []
        if criteria.before_limit:
            before, _ = await stream.paginate_room_events(
                event.room_id, token_before(event), None, "b", criteria.before_limit
            )
            before = await visibility.filter_events_for_client(requester.user_id, before)
        if criteria.after_limit:
            after, _ = await stream.paginate_room_events(
                event.room_id, token_after(event), None, "f", criteria.after_limit
            )
            after = await visibility.filter_events_for_client(requester.user_id, after)
        context: JsonDict = {
            "events_before": self._serialize(requester, before),
            "events_after": self._serialize(requester, after),
            "start": (token_before(before[-1]) if before else token_before(event)).to_string(),
            "end": (token_after(after[-1]) if after else token_after(event)).to_string(),
        }
        if criteria.include_profile:
            context["profile_info"] = await self._profiles_at(event, {e.sender for e in (*before, event, *after)})
        return context

    async def _profiles_at(self, event: FrozenEvent, senders: set[str]) -> dict[str, JsonDict]:
        """displayname and avatar_url of each sender from their member event at `event`."""
        stores = self._hs.stores
        state = await stores.state.get_state_ids_for_event(event.event_id)
        member_ids = [state[("m.room.member", s)] for s in senders if ("m.room.member", s) in state]
        profiles: dict[str, JsonDict] = {}
        for member in await stores.events.get_events_as_list(member_ids):
            content = member.content
            profile = {k: content[k] for k in ("displayname", "avatar_url") if isinstance(content.get(k), str)}
            profiles[member.state_key or ""] = profile
        return profiles

    async def _room_state(self, requester: Requester, room_ids: list[str]) -> dict[str, list[JsonDict]]:
        """Current state of each room a result came from (the user may read them all)."""
        state: dict[str, list[JsonDict]] = {}
        for room_id in room_ids:
            events = await self._hs.stores.state.get_current_state(room_id)
            state[room_id] = self._serialize(requester, list(events.values()))
        return state


def _groups(events: list[FrozenEvent], group_by: list[str]) -> dict[str, dict[str, JsonDict]]:
    """Result event ids per room or sender, groups in order of their best result."""
    groups: dict[str, dict[str, JsonDict]] = {}
    for key in group_by:
        by_value: dict[str, JsonDict] = {}
        for event in events:
            value = event.room_id if key == "room_id" else event.sender
            group = by_value.setdefault(value, {"results": [], "order": len(by_value) + 1})
            group["results"].append(event.event_id)
        groups[key] = by_value
    return groups
