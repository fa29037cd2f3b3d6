"""The filter model: validation errcodes, matching rules, event_fields."""

import pytest

from synapse.api.errors import SynapseError
from synapse.api.filtering import (
    DEFAULT_TIMELINE_LIMIT,
    MAX_FILTER_LIMIT,
    Filter,
    FilterCollection,
    only_event_fields,
    parse_filter_param,
    parse_room_event_filter_param,
    validate_filter_json,
)
from synapse.events.model import FrozenEvent, InternalMetadata
from synapse.events.room_versions import KNOWN_ROOM_VERSIONS


def _event(type_: str = "m.room.message", sender: str = "@a:test", content: dict | None = None) -> FrozenEvent:
    return FrozenEvent(
        {"type": type_, "sender": sender, "room_id": "!r:test", "content": content or {}, "depth": 1},
        KNOWN_ROOM_VERSIONS["10"],
        InternalMetadata(stream_ordering=1),
        event_id="$e",
    )


@pytest.mark.parametrize(
    "bad",
    [
        [],
        {"room": []},
        {"room": {"timeline": {"limit": 0}}},
        {"room": {"timeline": {"limit": "10"}}},
        {"room": {"timeline": {"limit": True}}},
        {"room": {"timeline": {"types": "m.room.message"}}},
        {"room": {"timeline": {"senders": ["alice"]}}},
        {"room": {"rooms": ["#alias:test"]}},
        {"room": {"state": {"lazy_load_members": "yes"}}},
        {"room": {"include_leave": 1}},
        {"presence": {"not_types": [1]}},
        {"event_format": "xml"},
        {"event_fields": "content.body"},
    ],
)
def test_invalid_filters_are_bad_json(bad: object) -> None:
    with pytest.raises(SynapseError) as e:
        validate_filter_json(bad)
    assert (e.value.code, e.value.errcode) == (400, "M_BAD_JSON")


def test_valid_filter_with_every_section() -> None:
    validate_filter_json(
        {
            "event_fields": ["type", "content.body"],
            "event_format": "federation",
            "presence": {"types": ["m.presence"], "not_senders": ["@x:test"]},
            "account_data": {"limit": 5},
            "room": {
                "rooms": ["!a:test"],
                "not_rooms": ["!b:test"],
                "include_leave": True,
                "timeline": {"limit": 20, "types": ["m.*"], "contains_url": False},
                "state": {"lazy_load_members": True, "include_redundant_members": False},
                "ephemeral": {"types": []},
                "account_data": {},
            },
            "org.example.unknown": 1,
        }
    )


def test_inline_filter_param_errors() -> None:
    with pytest.raises(SynapseError) as e:
        parse_filter_param("{not json")
    assert e.value.errcode == "M_BAD_JSON"
    with pytest.raises(SynapseError) as e:
        parse_filter_param('{"room": {"timeline": {"limit": -1}}}')
    assert e.value.errcode == "M_BAD_JSON"
    assert parse_filter_param('{"room": {"timeline": {"limit": 3}}}')["room"]["timeline"]["limit"] == 3
    with pytest.raises(SynapseError) as e:
        parse_room_event_filter_param('{"types": "m.room.message"}')
    assert e.value.errcode == "M_BAD_JSON"
    got = parse_room_event_filter_param('{"types": ["m.room.message"], "lazy_load_members": true}')
    assert got is not None and got.lazy_load_members and got.types == ["m.room.message"]
    assert parse_room_event_filter_param(None) is None


def test_types_with_wildcards_and_not_types_win() -> None:
    f = Filter({"types": ["m.room.*", "org.x"], "not_types": ["m.room.member"]})
    assert f.check(_event("m.room.message"))
    assert f.check(_event("org.x"))
    assert not f.check(_event("m.room.member"))
    assert not f.check(_event("org.xy"))
    assert not f.check(_event("m.call.invite"))
    assert Filter({"types": ["m.*.invite"]}).check(_event("m.call.invite"))
    assert not Filter({"types": ["m.*.invite"]}).check(_event("m.call.hangup"))


def test_senders_rooms_and_contains_url() -> None:
    f = Filter({"senders": ["@a:test", "@b:test"], "not_senders": ["@b:test"]})
    assert f.check(_event(sender="@a:test"))
    assert not f.check(_event(sender="@b:test"))
    assert not f.check(_event(sender="@c:test"))
    assert not Filter({"not_rooms": ["!r:test"]}).check(_event())
    assert Filter({"rooms": ["!r:test"]}).check(_event())
    with_url = _event(content={"url": "mxc://x/y"})
    assert Filter({"contains_url": True}).check(with_url)
    assert not Filter({"contains_url": True}).check(_event())
    assert Filter({"contains_url": False}).check(_event())
    assert not Filter({"contains_url": False}).check(with_url)


def test_dict_events_match_on_type_and_sender() -> None:
    f = Filter({"types": ["m.presence"], "not_senders": ["@x:test"]})
    assert f.check({"type": "m.presence", "sender": "@y:test", "content": {}})
    assert not f.check({"type": "m.presence", "sender": "@x:test", "content": {}})
    assert not f.check({"type": "m.typing", "content": {}})


def test_blocks_all_and_matches_everything() -> None:
    assert Filter().matches_everything()
    assert Filter({"types": []}).blocks_all()
    assert Filter({"not_types": ["*"]}).blocks_all()
    assert not Filter({"types": ["m.room.message"]}).blocks_all()


def test_collection_sections_and_limits() -> None:
    fc = FilterCollection(
        {
            "room": {
                "rooms": ["!a:test", "!b:test"],
                "not_rooms": ["!b:test"],
                "timeline": {"limit": 100000},
                "state": {"lazy_load_members": True, "include_redundant_members": True},
                "include_leave": True,
            }
        }
    )
    assert fc.filter_room_ids(["!a:test", "!b:test", "!c:test"]) == ["!a:test"]
    assert fc.timeline_limit == MAX_FILTER_LIMIT
    assert fc.lazy_load_members and fc.include_redundant_members and fc.include_leave
    default = FilterCollection()
    assert default.timeline_limit == DEFAULT_TIMELINE_LIMIT
    assert not default.lazy_load_members and default.event_format == "client"


def test_event_fields_with_escaped_dots() -> None:
    event = {
        "type": "m.room.message",
        "event_id": "$e",
        "content": {"body": "hi", "m.relates_to": {"rel_type": "x"}, "a\\b": 1, "msgtype": "m.text"},
    }
    got = only_event_fields(event, ["type", "content.body", "content.m\\.relates_to", "content.a\\\\b", "nope.x"])
    assert got == {"type": "m.room.message", "content": {"body": "hi", "m.relates_to": {"rel_type": "x"}, "a\\b": 1}}
