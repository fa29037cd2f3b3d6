"""Build rooms of FrozenEvents for auth rule and state resolution tests.

Event ids are chosen by the test (readable names), in every room version:
v1/v2 carry them in the event, later versions get them set on the
instance, so the tests never depend on reference hashing.
"""

from collections.abc import Collection, Iterable, Sequence
from typing import Any, Optional

from synapse.events.auth import auth_types_for_event, check_auth_rules_for_event
from synapse.events.model import FrozenEvent, InternalMetadata
from synapse.events.room_versions import KNOWN_ROOM_VERSIONS, EventFormat, RoomVersion
from synapse.state import StateMap, resolve_events

CREATOR = "@creator:a.test"
CREATE_ID = "$create:a.test"
V12_CREATE_ID = "$create"


def make_event(
    room_version: RoomVersion,
    event_id: str,
    type: str,
    sender: str,
    content: dict[str, Any],
    state_key: Optional[str] = None,
    room_id: Optional[str] = "!room:a.test",
    prev_ids: Sequence[str] = (),
    auth_ids: Sequence[str] = (),
    depth: int = 1,
    ts: int = 0,
    extra: Optional[dict[str, Any]] = None,
    rejected: bool = False,
) -> FrozenEvent:
    v1_format = room_version.event_format == EventFormat.V1
    refs = (lambda ids: [[i, {}] for i in ids]) if v1_format else list
    event: dict[str, Any] = {
        "type": type,
        "sender": sender,
        "content": content,
        "prev_events": refs(prev_ids),
        "auth_events": refs(auth_ids),
        "depth": depth,
        "origin_server_ts": ts,
        **(extra or {}),
    }
    if room_id is not None:
        event["room_id"] = room_id
    if state_key is not None:
        event["state_key"] = state_key
    if v1_format:
        event["event_id"] = event_id
    metadata = InternalMetadata(rejected_reason="auth" if rejected else None)
    built = FrozenEvent(event, room_version, metadata)
    if not v1_format:
        built._event_id = event_id
    return built


class Room:
    """A room with a linear history; `state` is the current state."""

    def __init__(self, version: str, creator: str = CREATOR, create_content: Optional[dict] = None) -> None:
        self.room_version = KNOWN_ROOM_VERSIONS[version]
        self.events: dict[str, FrozenEvent] = {}
        self.state: StateMap = {}
        self.last: list[str] = []
        self._counter = 0
        content = {"room_version": version, **(create_content or {})}
        if not self.room_version.implicit_room_creator:
            content.setdefault("creator", creator)
        if self.room_version.room_id_from_create_event:
            self.room_id = "!" + V12_CREATE_ID[1:]
            create = make_event(self.room_version, V12_CREATE_ID, "m.room.create", creator, content, "", room_id=None)
        else:
            self.room_id = "!room:a.test"
            create = make_event(self.room_version, CREATE_ID, "m.room.create", creator, content, "")
        self.create = create
        self._apply(create)

    def _apply(self, event: FrozenEvent) -> FrozenEvent:
        self.events[event.event_id] = event
        if event.is_state():
            self.state[(event.type, event.state_key)] = event.event_id
        self.last = [event.event_id]
        return event

    def auth_map(self) -> dict[tuple[str, str], FrozenEvent]:
        return {key: self.events[event_id] for key, event_id in self.state.items()}

    def build(
        self,
        type: str,
        sender: str,
        content: dict[str, Any],
        state_key: Optional[str] = None,
        event_id: Optional[str] = None,
        **kwargs: Any,
    ) -> FrozenEvent:
        """An event on top of the current state, with auth events selected from it."""
        self._counter += 1
        event_id = event_id or self._new_id(f"e{self._counter}")
        fields: dict[str, Any] = dict(
            room_id=self.room_id, prev_ids=self.last, depth=self._counter + 1, ts=1000 + self._counter
        )
        fields.update(kwargs)
        draft = make_event(self.room_version, event_id, type, sender, content, state_key, **fields)
        keys = auth_types_for_event(self.room_version, draft)
        auth_ids = sorted(self.state[k] for k in keys if k in self.state)
        return make_event(self.room_version, event_id, type, sender, content, state_key, auth_ids=auth_ids, **fields)

    def _new_id(self, name: str) -> str:
        return f"${name}:a.test" if self.room_version.event_format == EventFormat.V1 else f"${name}"

    def check(
        self, type: str, sender: str, content: dict[str, Any], state_key: Optional[str] = None, **kw: Any
    ) -> None:
        """Raise EventAuthError unless the event is allowed in the current state."""
        event = self.build(type, sender, content, state_key, **kw)
        check_auth_rules_for_event(event, self.auth_map(), self.create)

    def send(
        self, type: str, sender: str, content: dict[str, Any], state_key: Optional[str] = None, **kw: Any
    ) -> FrozenEvent:
        """Check the event and append it to the room."""
        event = self.build(type, sender, content, state_key, **kw)
        check_auth_rules_for_event(event, self.auth_map(), self.create)
        return self._apply(event)

    def join(self, user_id: str, **kw: Any) -> FrozenEvent:
        return self.send("m.room.member", user_id, {"membership": "join"}, user_id, **kw)

    def power_levels(self, sender: str, users: dict[str, int], **others: Any) -> FrozenEvent:
        return self.send("m.room.power_levels", sender, {"users": users, **others}, "")


def standard_room(version: str, members: Iterable[str] = (), join_rule: str = "public", cls: type = Room) -> Any:
    """Creator joined, creator-admin power levels, the join rule set, `members` joined."""
    room = cls(version)
    room.join(CREATOR)
    users = {} if room.room_version.privileged_creators else {CREATOR: 100}
    room.power_levels(CREATOR, users)
    room.send("m.room.join_rules", CREATOR, {"join_rule": "public"}, "")
    for user_id in members:
        room.join(user_id)
    if join_rule != "public":
        room.send("m.room.join_rules", CREATOR, {"join_rule": join_rule}, "")
    return room


# -- state resolution -------------------------------------------------------


class MemoryStore:
    """A StateResolutionStore over a dict, counting how often it is asked."""

    def __init__(self, events: dict[str, FrozenEvent]) -> None:
        self.events = events
        self.calls = 0

    async def get_events(self, event_ids: Collection[str]) -> dict[str, FrozenEvent]:
        self.calls += 1
        return {e: self.events[e] for e in event_ids if e in self.events}


def run(coroutine: Any) -> Any:
    """Drive a coroutine that never waits on anything outside itself."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value
    raise AssertionError("coroutine suspended on something outside the test")


class DagRoom(Room):
    """A room whose history may fork: each event names its prev events.

    The state before an event is resolved from the states after its prev
    events with the room version's algorithm, as a server would.
    """

    def __init__(self, version: str, creator: str = CREATOR, create_content: Optional[dict] = None) -> None:
        self.state_after: dict[str, StateMap] = {}
        super().__init__(version, creator, create_content)

    def _apply(self, event: FrozenEvent) -> FrozenEvent:
        super()._apply(event)
        self.state_after[event.event_id] = dict(self.state)
        return event

    def resolve(self, tips: Sequence[str]) -> StateMap:
        store = MemoryStore(self.events)
        return run(resolve_events(self.room_version, [self.state_after[t] for t in tips], None, store))

    def add(
        self,
        event_id: str,
        type: str,
        sender: str,
        content: dict[str, Any],
        state_key: Optional[str] = None,
        prevs: Optional[Sequence[str]] = None,
        ts: Optional[int] = None,
    ) -> FrozenEvent:
        """Append an event after `prevs` (default: the last event), checked against the state there."""
        prevs = list(prevs) if prevs is not None else self.last
        self.state = self.resolve(prevs)
        self.last = prevs
        event_id = self._new_id(event_id)
        extra: dict[str, Any] = {"depth": max(self.events[p].depth for p in prevs) + 1}
        if ts is not None:
            extra["ts"] = ts
        event = self.build(type, sender, content, state_key, event_id=event_id, **extra)
        check_auth_rules_for_event(event, self.auth_map(), self.create)
        return self._apply(event)

    def id(self, name: str) -> str:
        return self._new_id(name)
