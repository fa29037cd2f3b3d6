"""Filters (CS API "Filtering"): the model, its validation and the per-user store facade.

A filter says which events a client wants from /sync, /messages and
/context. `FilterCollection` is one uploaded `Filter` object (room,
presence, account data sections plus `event_fields`/`event_format`);
`Filter` is one `EventFilter`/`RoomEventFilter` section and does the
per-event matching. Validation happens on upload and on inline filters so
that a bad filter is refused up front (M_BAD_JSON) rather than silently
ignored at sync time.
"""

import json
from typing import TYPE_CHECKING, Any, Iterable, Optional, Sequence, TypeVar, Union

from synapse.api.errors import Codes, NotFoundError, SynapseError
from synapse.events.model import FrozenEvent
from synapse.events.serialize import serialize_event

if TYPE_CHECKING:
    from synapse.server import HomeServer

JsonDict = dict[str, Any]
T = TypeVar("T")

# The timeline limit when a filter names none, and the most any filter may ask.
DEFAULT_TIMELINE_LIMIT = 10
MAX_FILTER_LIMIT = 1000

_ID_LISTS = {"senders": "@", "not_senders": "@", "rooms": "!", "not_rooms": "!"}
_STRING_LISTS = ("types", "not_types")
_BOOLEANS = ("contains_url", "lazy_load_members", "include_redundant_members", "unread_thread_notifications")
_ROOM_SECTIONS = ("timeline", "state", "ephemeral", "account_data")
_TOP_SECTIONS = ("presence", "account_data")


def _bad(msg: str) -> SynapseError:
    return SynapseError(400, f"Invalid filter: {msg}", Codes.BAD_JSON)


def check_event_filter(value: Any, where: str, room_filter: bool) -> None:
    if not isinstance(value, dict):
        raise _bad(f"{where} must be an object")
    for key, item in value.items():
        if key in _STRING_LISTS or key in _ID_LISTS:
            if not isinstance(item, list) or not all(isinstance(s, str) for s in item):
                raise _bad(f"{where}.{key} must be a list of strings")
            sigil = _ID_LISTS.get(key)
            if sigil and not all(s.startswith(sigil) for s in item):
                raise _bad(f"{where}.{key} entries must start with {sigil!r}")
        elif key == "limit":
            if isinstance(item, bool) or not isinstance(item, int) or item < 1:
                raise _bad(f"{where}.limit must be an integer greater than 0")
        elif key in _BOOLEANS and room_filter:
            if not isinstance(item, bool):
                raise _bad(f"{where}.{key} must be a boolean")


def validate_filter_json(filter_json: Any) -> None:
    """Raise 400 M_BAD_JSON unless `filter_json` is a well-formed Filter object.

    Unknown keys are tolerated (clients send extensions); known keys must have
    the spec's types.
    """
    if not isinstance(filter_json, dict):
        raise _bad("the filter must be an object")
    for name in _TOP_SECTIONS:
        if name in filter_json:
            check_event_filter(filter_json[name], name, room_filter=False)
    room = filter_json.get("room", {})
    if not isinstance(room, dict):
        raise _bad("room must be an object")
    for key in ("rooms", "not_rooms"):
        if key in room:
            check_event_filter({key: room[key]}, "room", room_filter=True)
    if "include_leave" in room and not isinstance(room["include_leave"], bool):
        raise _bad("room.include_leave must be a boolean")
    for name in _ROOM_SECTIONS:
        if name in room:
            check_event_filter(room[name], f"room.{name}", room_filter=True)
    fields = filter_json.get("event_fields")
    if fields is not None:
        if not isinstance(fields, list) or not all(isinstance(f, str) and f for f in fields):
            raise _bad("event_fields must be a list of non-empty strings")
    if filter_json.get("event_format", "client") not in ("client", "federation"):
        raise _bad("event_format must be 'client' or 'federation'")


def _type_matches(pattern: str, value: str) -> bool:
    """The spec's `*` wildcard (any run of characters) against an event type."""
    if "*" not in pattern:
        return pattern == value
    parts = pattern.split("*")
    if not value.startswith(parts[0]) or not value.endswith(parts[-1]):
        return False
    pos = len(parts[0])
    end = len(value) - len(parts[-1])
    for middle in parts[1:-1]:
        found = value.find(middle, pos, end)
        if found < 0:
            return False
        pos = found + len(middle)
    return pos <= end


class Filter:
    """One EventFilter / RoomEventFilter: matches single events (or event-like dicts)."""

    def __init__(self, filter_json: Optional[JsonDict] = None) -> None:
        f = filter_json or {}
        self.filter_json = f
        self.types: Optional[list[str]] = f.get("types")
        self.not_types: list[str] = f.get("not_types", [])
        self.senders: Optional[list[str]] = f.get("senders")
        self.not_senders: list[str] = f.get("not_senders", [])
        self.rooms: Optional[list[str]] = f.get("rooms")
        self.not_rooms: list[str] = f.get("not_rooms", [])
        self.contains_url: Optional[bool] = f.get("contains_url")
        limit = f.get("limit")
        self.limit: Optional[int] = min(limit, MAX_FILTER_LIMIT) if isinstance(limit, int) else None
        self.lazy_load_members: bool = bool(f.get("lazy_load_members", False))
        self.include_redundant_members: bool = bool(f.get("include_redundant_members", False))

    def with_limit(self, limit: Optional[int]) -> "Filter":
        return Filter({**self.filter_json, "limit": limit} if limit is not None else self.filter_json)

    def matches_everything(self) -> bool:
        """True when no event can be excluded, so callers may skip filtering."""
        return (
            self.types is None
            and not self.not_types
            and self.senders is None
            and not self.not_senders
            and self.rooms is None
            and not self.not_rooms
            and self.contains_url is None
        )

    def blocks_all(self) -> bool:
        """True when the filter excludes every event (e.g. `types: []` or `not_types: ["*"]`)."""
        return self.types == [] or self.senders == [] or self.rooms == [] or "*" in self.not_types

    def type_allowed(self, event_type: str) -> bool:
        if any(_type_matches(p, event_type) for p in self.not_types):
            return False
        return self.types is None or any(_type_matches(p, event_type) for p in self.types)

    def sender_allowed(self, sender: Optional[str]) -> bool:
        if sender in self.not_senders:
            return False
        return self.senders is None or sender in self.senders

    def room_allowed(self, room_id: Optional[str]) -> bool:
        if room_id in self.not_rooms:
            return False
        return self.rooms is None or room_id in self.rooms

    def check(self, event: Union[FrozenEvent, JsonDict]) -> bool:
        """Whether the event passes. Dicts (presence, account data, ephemeral)
        are matched on their `type`, `sender` (or `content.user_id`) and `room_id`."""
        if isinstance(event, FrozenEvent):
            event_type, sender, room_id, content = event.type, event.sender, event.room_id, event.content
        else:
            content = event.get("content") or {}
            event_type = event.get("type", "")
            sender = event.get("sender") or content.get("user_id")
            room_id = event.get("room_id")
        if not self.type_allowed(event_type):
            return False
        if sender is not None and not self.sender_allowed(sender):
            return False
        if room_id is not None and not self.room_allowed(room_id):
            return False
        if self.contains_url is not None:
            has_url = isinstance(content.get("url"), str)
            if has_url != self.contains_url:
                return False
        return True

    def filter(self, events: Iterable[T]) -> list[T]:
        if self.matches_everything():
            return list(events)
        return [e for e in events if self.check(e)]  # type: ignore[arg-type]

    def filter_rooms(self, room_ids: Iterable[str]) -> list[str]:
        return [r for r in room_ids if self.room_allowed(r)]


class FilterCollection:
    """A whole uploaded filter: one `Filter` per section, plus output options."""

    def __init__(self, filter_json: Optional[JsonDict] = None) -> None:
        f = filter_json or {}
        self.filter_json = f
        room = f.get("room", {})
        self.room_filter = Filter({k: room[k] for k in ("rooms", "not_rooms") if k in room})
        self.timeline_filter = Filter(room.get("timeline"))
        self.state_filter = Filter(room.get("state"))
        self.ephemeral_filter = Filter(room.get("ephemeral"))
        self.room_account_data_filter = Filter(room.get("account_data"))
        self.presence_filter = Filter(f.get("presence"))
        self.account_data_filter = Filter(f.get("account_data"))
        self.include_leave: bool = bool(room.get("include_leave", False))
        self.event_fields: Optional[list[str]] = f.get("event_fields")
        self.event_format: str = f.get("event_format", "client")

    @property
    def timeline_limit(self) -> int:
        return self.timeline_filter.limit or DEFAULT_TIMELINE_LIMIT

    @property
    def lazy_load_members(self) -> bool:
        """Lazy loading is asked for on the state filter (as the spec's examples do)."""
        return self.state_filter.lazy_load_members

    @property
    def unread_thread_notifications(self) -> bool:
        """Per-thread unread counts are asked for on the timeline filter."""
        return bool(self.timeline_filter.filter_json.get("unread_thread_notifications", False))

    @property
    def include_redundant_members(self) -> bool:
        return self.state_filter.include_redundant_members

    def filter_room_ids(self, room_ids: Iterable[str]) -> list[str]:
        return self.room_filter.filter_rooms(room_ids)

    def format_events(
        self,
        events: Iterable[FrozenEvent],
        now_ms: int,
        *,
        include_room_id: bool = True,
        requester_user_id: Optional[str] = None,
        requester_device_id: Optional[str] = None,
    ) -> list[JsonDict]:
        """Events as this filter's `event_format` and `event_fields` ask."""
        out = []
        for event in events:
            d = serialize_event(
                event,
                now_ms,
                as_client_event=self.event_format != "federation",
                include_room_id=include_room_id,
                requester_device_id=requester_device_id,
                requester_user_id=requester_user_id,
            )
            out.append(only_event_fields(d, self.event_fields) if self.event_fields is not None else d)
        return out


DEFAULT_FILTER_COLLECTION = FilterCollection()


def split_field_path(path: str) -> list[str]:
    """`content.m\\.relates_to` -> ["content", "m.relates_to"] (appendices: dot-separated paths)."""
    parts: list[str] = []
    current: list[str] = []
    i = 0
    while i < len(path):
        ch = path[i]
        if ch == "\\" and i + 1 < len(path) and path[i + 1] in ".\\":
            current.append(path[i + 1])
            i += 2
            continue
        if ch == ".":
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
        i += 1
    parts.append("".join(current))
    return parts


def only_event_fields(event: JsonDict, fields: Sequence[str]) -> JsonDict:
    """The serialized event keeping only the given dot-separated paths."""
    result: JsonDict = {}
    for field in fields:
        path = split_field_path(field)
        source: Any = event
        for key in path:
            if not isinstance(source, dict) or key not in source:
                break
            source = source[key]
        else:
            target = result
            for key in path[:-1]:
                target = target.setdefault(key, {})
            target[path[-1]] = source
    return result


def _parse_json_param(value: str) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        raise _bad("not valid JSON") from None


def parse_filter_param(value: str) -> JsonDict:
    """An inline Filter passed as a query parameter (/sync): JSON text, validated (M_BAD_JSON)."""
    filter_json = _parse_json_param(value)
    validate_filter_json(filter_json)
    return filter_json


def parse_room_event_filter_param(value: Optional[str]) -> Optional[Filter]:
    """A RoomEventFilter query parameter (/messages, /context), validated (M_BAD_JSON)."""
    if not value:
        return None
    filter_json = _parse_json_param(value)
    check_event_filter(filter_json, "filter", room_filter=True)
    return Filter(filter_json)


class Filtering:
    """Per-user filters: what the filter servlets and /sync call."""

    def __init__(self, hs: "HomeServer") -> None:
        self._hs = hs

    @property
    def _store(self) -> Any:
        return self._hs.stores.filtering

    def check_valid_filter(self, filter_json: Any) -> None:
        validate_filter_json(filter_json)

    async def add_user_filter(self, user_id: str, filter_json: JsonDict) -> int:
        """Stores a validated filter and returns its id (the same id for an identical filter)."""
        validate_filter_json(filter_json)
        return await self._store.add_user_filter(user_id, filter_json)

    async def get_user_filter_json(self, user_id: str, filter_id: Union[int, str]) -> JsonDict:
        """The filter as uploaded; 404 M_NOT_FOUND if the user has no such filter."""
        try:
            numeric_id = int(filter_id)
        except (TypeError, ValueError):
            raise NotFoundError("No such filter") from None
        if numeric_id < 0:
            raise NotFoundError("No such filter")
        filter_json = await self._store.get_user_filter(user_id, numeric_id)
        if filter_json is None:
            raise NotFoundError("No such filter")
        return filter_json

    async def get_user_filter(self, user_id: str, filter_id: Union[int, str]) -> FilterCollection:
        return FilterCollection(await self.get_user_filter_json(user_id, filter_id))

    async def resolve_filter_param(self, user_id: str, value: Optional[str]) -> FilterCollection:
        """A /sync `filter` parameter: an inline JSON filter or a stored filter id.

        An unknown id is a bad parameter of this request (400 M_INVALID_PARAM)
        rather than a missing resource."""
        if not value:
            return DEFAULT_FILTER_COLLECTION
        if value.lstrip().startswith("{"):
            return FilterCollection(parse_filter_param(value))
        try:
            return await self.get_user_filter(user_id, value)
        except NotFoundError:
            raise SynapseError(400, f"Unknown filter {value!r}", Codes.INVALID_PARAM) from None
