"""FilteringStore and StreamStore on both engines, with rows inserted directly.

The events read store is replaced by a dict of the events inserted here:
StreamStore only asks it for events by id.
"""

from typing import Any, Iterable, Optional

import pytest

from synapse.api.filtering import Filter
from synapse.events.model import FrozenEvent, InternalMetadata
from synapse.events.room_versions import KNOWN_ROOM_VERSIONS
from synapse.storage.database import DatabasePool
from synapse.storage.stores.filtering import FilteringStore
from synapse.storage.stores.stream import StreamStore, token_after, token_before
from synapse.streams.tokens import RoomStreamToken
from tests.support.twisted import run

V10 = KNOWN_ROOM_VERSIONS["10"]


class _Events:
    def __init__(self) -> None:
        self.by_id: dict[str, FrozenEvent] = {}

    async def get_events_as_list(self, ids: Iterable[str]) -> list[FrozenEvent]:
        return [self.by_id[i] for i in ids if i in self.by_id]


class _IdGen:
    def __init__(self) -> None:
        self.pos = 0

    def get_current_token(self) -> int:
        return self.pos


class _Room:
    """Inserts events rows (and membership rows) like a persister would."""

    def __init__(self, db: DatabasePool, events: _Events, id_gen: _IdGen) -> None:
        self.db, self.events, self.id_gen = db, events, id_gen
        self.depths: dict[str, int] = {}

    def send(
        self,
        room_id: str,
        type_: str = "m.room.message",
        sender: str = "@a:test",
        content: Optional[dict[str, Any]] = None,
        state_key: Optional[str] = None,
        depth: Optional[int] = None,
    ) -> FrozenEvent:
        self.id_gen.pos += 1
        stream = self.id_gen.pos
        depth = depth if depth is not None else self.depths.get(room_id, 0) + 1
        self.depths[room_id] = max(depth, self.depths.get(room_id, 0))
        d: dict[str, Any] = {
            "type": type_,
            "sender": sender,
            "room_id": room_id,
            "content": content or {},
            "depth": depth,
        }
        if state_key is not None:
            d["state_key"] = state_key
        event = FrozenEvent(d, V10, InternalMetadata(stream_ordering=stream), event_id=f"$ev{stream}")
        self.events.by_id[event.event_id] = event
        run(
            self.db.simple_insert(
                "events",
                {
                    "stream_ordering": stream,
                    "event_id": event.event_id,
                    "room_id": room_id,
                    "type": type_,
                    "state_key": state_key,
                    "sender": sender,
                    "depth": depth,
                    "origin_server_ts": 1000 + stream,
                    "received_ts": 1000 + stream,
                    "instance_name": "main",
                    "outlier": False,
                },
            )
        )
        if type_ == "m.room.member":
            run(
                self.db.simple_insert(
                    "room_memberships",
                    {
                        "event_id": event.event_id,
                        "user_id": state_key,
                        "sender": sender,
                        "room_id": room_id,
                        "membership": (content or {})["membership"],
                        "stream_ordering": stream,
                    },
                )
            )
        return event


@pytest.fixture
def env(db_pool: DatabasePool) -> tuple[StreamStore, _Room]:
    events, id_gen = _Events(), _IdGen()
    return StreamStore(db_pool, events, id_gen), _Room(db_pool, events, id_gen)


def _ids(events: list[FrozenEvent]) -> list[str]:
    return [e.event_id for e in events]


def test_filters_are_numbered_per_user_and_deduplicated(db_pool: DatabasePool) -> None:
    store = FilteringStore(db_pool)
    a0 = run(store.add_user_filter("@a:test", {"room": {"timeline": {"limit": 1}}}))
    a1 = run(store.add_user_filter("@a:test", {"presence": {"types": []}}))
    b0 = run(store.add_user_filter("@b:test", {"presence": {"types": []}}))
    assert (a0, a1, b0) == (0, 1, 0)
    assert run(store.add_user_filter("@a:test", {"presence": {"types": []}})) == 1
    assert run(store.get_user_filter("@a:test", 0)) == {"room": {"timeline": {"limit": 1}}}
    assert run(store.get_user_filter("@b:test", 1)) is None


def test_recent_events_per_room_with_limit(env: tuple[StreamStore, _Room]) -> None:
    store, room = env
    a = [room.send("!a:test") for _ in range(5)]
    b = [room.send("!b:test")]
    room.send("!c:test")
    result = run(store.get_recent_events_for_rooms(["!a:test", "!b:test"], 0, room.id_gen.pos, limit=3))
    assert set(result) == {"!a:test", "!b:test"}
    assert _ids(result["!a:test"].events) == _ids(a[2:]) and result["!a:test"].limited
    assert _ids(result["!b:test"].events) == _ids(b) and not result["!b:test"].limited
    # incremental: only what is after the position, and only changed rooms
    since = room.id_gen.pos
    new = room.send("!b:test")
    result = run(store.get_recent_events_for_rooms(["!a:test", "!b:test"], since, room.id_gen.pos, limit=3))
    assert list(result) == ["!b:test"]
    assert _ids(result["!b:test"].events) == [new.event_id] and not result["!b:test"].limited
    assert run(store.get_recent_events_for_rooms(["!a:test"], since, since, limit=3)) == {}


def test_filter_pushdown_types_senders_and_contains_url(env: tuple[StreamStore, _Room]) -> None:
    store, room = env
    msg = room.send("!a:test", sender="@a:test")
    room.send("!a:test", type_="m.room.topic", state_key="", sender="@a:test")
    other = room.send("!a:test", type_="m.room_x", sender="@b:test")
    img = room.send("!a:test", sender="@b:test", content={"url": "mxc://a/b"})
    for _ in range(4):
        room.send("!a:test", sender="@b:test")
    pos = room.id_gen.pos

    def get(f: dict[str, Any], limit: int = 10) -> list[str]:
        got = run(store.get_recent_events_for_rooms(["!a:test"], 0, pos, limit, Filter(f)))
        return _ids(got["!a:test"].events) if got else []

    # `_` in a type is literal, not a LIKE wildcard
    assert get({"types": ["m.room_*"]}) == [other.event_id]
    assert get({"types": ["m.room.*"], "senders": ["@a:test"], "not_types": ["m.room.topic"]}) == [msg.event_id]
    assert get({"not_senders": ["@b:test"], "types": ["m.room.message"]}) == [msg.event_id]
    assert get({"types": []}) == []
    # contains_url is checked on the events; older rows are fetched to fill the page
    assert get({"contains_url": True}, limit=1) == [img.event_id]


def test_topological_pagination_has_no_gaps_or_duplicates(env: tuple[StreamStore, _Room]) -> None:
    store, room = env
    sent = [room.send("!a:test") for _ in range(7)]
    room.send("!other:test")
    end = RoomStreamToken(None, room.id_gen.pos)
    seen: list[FrozenEvent] = []
    token: Optional[RoomStreamToken] = end
    while token is not None:
        chunk, token = run(store.paginate_room_events("!a:test", token, direction="b", limit=3))
        seen += chunk
    assert _ids(seen) == _ids(sent[::-1])
    # forwards from the start, to a bound
    chunk, nxt = run(store.paginate_room_events("!a:test", RoomStreamToken(0, 0), direction="f", limit=4))
    assert _ids(chunk) == _ids(sent[:4]) and nxt == token_after(sent[3])
    chunk, _ = run(store.paginate_room_events("!a:test", nxt, to_token=token_after(sent[5]), direction="f", limit=10))
    assert _ids(chunk) == _ids(sent[4:6])
    # backwards to a bound
    chunk, _ = run(
        store.paginate_room_events("!a:test", token_before(sent[5]), to_token=token_before(sent[2]), direction="b")
    )
    assert _ids(chunk) == _ids([sent[4], sent[3], sent[2]])


def test_topological_order_follows_depth_not_stream(env: tuple[StreamStore, _Room]) -> None:
    store, room = env
    late_but_old = room.send("!a:test", depth=5)
    early = room.send("!a:test", depth=3)
    chunk, _ = run(store.paginate_room_events("!a:test", RoomStreamToken(None, room.id_gen.pos), direction="b"))
    assert _ids(chunk) == [late_but_old.event_id, early.event_id]
    topo = run(store.get_topological_token("!a:test", RoomStreamToken(None, early.internal_metadata.stream_ordering)))
    assert topo == token_after(early)


def test_events_between_and_last_event(env: tuple[StreamStore, _Room]) -> None:
    store, room = env
    a1 = room.send("!a:test")
    b1 = room.send("!b:test")
    room.send("!c:test")
    a2 = room.send("!a:test")
    got = run(store.get_events_for_rooms_between(["!a:test", "!b:test"], 0, room.id_gen.pos, limit=10))
    assert _ids(got) == _ids([a1, b1, a2])
    got = run(store.get_events_for_rooms_between(["!a:test", "!b:test"], 0, room.id_gen.pos, limit=2))
    assert _ids(got) == _ids([a1, b1])
    last = run(
        store.get_last_event_in_rooms(["!a:test", "!b:test", "!none:test"], b1.internal_metadata.stream_ordering)
    )
    assert {r: e.event_id for r, e in last.items()} == {"!a:test": a1.event_id, "!b:test": b1.event_id}


def test_membership_changes_and_history(env: tuple[StreamStore, _Room]) -> None:
    store, room = env
    join = room.send("!a:test", "m.room.member", "@u:test", {"membership": "join"}, state_key="@u:test")
    room.send("!a:test", "m.room.member", "@v:test", {"membership": "join"}, state_key="@v:test")
    since = room.id_gen.pos
    leave = room.send("!a:test", "m.room.member", "@u:test", {"membership": "leave"}, state_key="@u:test")
    invite = room.send("!b:test", "m.room.member", "@w:test", {"membership": "invite"}, state_key="@u:test")
    changes = run(store.get_membership_changes_for_user("@u:test", since, room.id_gen.pos))
    assert [(c.room_id, c.membership, c.event_id, c.sender) for c in changes] == [
        ("!a:test", "leave", leave.event_id, "@u:test"),
        ("!b:test", "invite", invite.event_id, "@w:test"),
    ]
    history = run(store.get_membership_history("@u:test", ["!a:test", "!c:test"]))
    assert [c.event_id for c in history["!a:test"]] == [join.event_id, leave.event_id]
    assert history["!c:test"] == []
