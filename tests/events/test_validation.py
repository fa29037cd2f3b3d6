"""Event validation: size limits, canonical JSON per room version, client content rules."""

import pytest

from synapse.api.errors import Codes, SynapseError
from synapse.events.room_versions import KNOWN_ROOM_VERSIONS
from synapse.events.validation import (
    MAX_PDU_SIZE,
    check_canonical_json,
    validate_client_content,
    validate_event_for_room_version,
)

V1, V4, V5, V6, V11, V12 = (KNOWN_ROOM_VERSIONS[v] for v in ("1", "4", "5", "6", "11", "12"))


def _event(**overrides: object) -> dict:
    event = {
        "type": "m.room.message",
        "room_id": "!r:example.org",
        "sender": "@u:example.org",
        "content": {"body": "hi"},
        "prev_events": ["$p"],
        "auth_events": ["$a"],
        "depth": 3,
        "origin_server_ts": 1,
        "hashes": {"sha256": "h"},
        "signatures": {},
    }
    event.update(overrides)
    return event


def _error(event: dict, room_version=V11, **kwargs: object) -> SynapseError:
    with pytest.raises(SynapseError) as info:
        validate_event_for_room_version(event, room_version, **kwargs)
    return info.value


def test_valid_event_passes() -> None:
    validate_event_for_room_version(_event(), V11)


def test_event_too_large() -> None:
    error = _error(_event(content={"body": "x" * MAX_PDU_SIZE}))
    assert (error.code, error.errcode) == (413, Codes.TOO_LARGE)


def test_unsigned_does_not_count_towards_size() -> None:
    validate_event_for_room_version(_event(unsigned={"big": "x" * MAX_PDU_SIZE}), V11)


@pytest.mark.parametrize("key", ["sender", "room_id", "state_key", "type", "event_id"])
def test_identifier_longer_than_255_bytes(key: str) -> None:
    value = {"sender": "@", "room_id": "!", "event_id": "$"}.get(key, "") + "é" * 128  # 256+ bytes
    room_version = V1 if key == "event_id" else V11
    refs = {"prev_events": [], "auth_events": []}
    error = _error(_event(**{key: value}, **refs), room_version, client_rules=False)
    assert (error.code, error.errcode) == (413, Codes.TOO_LARGE)
    validate_event_for_room_version(_event(**{key: value[:127]}, **refs), room_version, client_rules=False)


@pytest.mark.parametrize("bad", [1.5, 2**53, -(2**53), {"nested": [0.0]}])
def test_strict_canonical_json_from_v6(bad: object) -> None:
    event = _event(content={"body": "x", "n": bad})
    error = _error(event, V6)
    assert (error.code, error.errcode) == (400, Codes.BAD_JSON)
    validate_event_for_room_version(event, V5)  # tolerated before v6


def test_canonical_json_bounds_are_inclusive() -> None:
    check_canonical_json({"a": 2**53 - 1, "b": -(2**53) + 1, "c": True})


@pytest.mark.parametrize(
    "overrides",
    [
        {"type": 5},
        {"sender": None},
        {"content": []},
        {"room_id": None},
        {"state_key": 1},
        {"depth": "3"},
        {"depth": True},
        {"origin_server_ts": 1.0},
        {"hashes": []},
        {"prev_events": "$p"},
        {"auth_events": [["$a", {}]]},
        {"redacts": 5},
    ],
)
def test_malformed_fields(overrides: dict) -> None:
    error = _error(_event(**overrides), client_rules=False)
    assert (error.code, error.errcode) == (400, Codes.BAD_JSON)


def test_v1_reference_format() -> None:
    validate_event_for_room_version(_event(prev_events=[["$p:e", {"sha256": "x"}]], auth_events=[]), V1)
    assert _error(_event(prev_events=["$p"]), V1).errcode == Codes.BAD_JSON


def test_room_id_optional_only_for_v12_create() -> None:
    create = _event(type="m.room.create", state_key="", content={})
    del create["room_id"]
    validate_event_for_room_version(create, V12)
    assert _error(create, V11).errcode == Codes.BAD_JSON
    message = _event()
    del message["room_id"]
    assert _error(message, V12).errcode == Codes.BAD_JSON


def test_nan_is_bad_json() -> None:
    assert _error(_event(content={"n": float("nan")}), V4).errcode == Codes.BAD_JSON


@pytest.mark.parametrize(
    "template",
    [
        {"type": "m.room.member", "state_key": "@u:example.org", "content": {}},
        {"type": "m.room.member", "state_key": "@u:example.org", "content": {"membership": 1}},
        {"type": "m.room.name", "state_key": "", "content": {"name": ["x"]}},
        {"type": "m.room.topic", "state_key": "", "content": {"topic": 5}},
        {"type": "m.room.power_levels", "state_key": "", "content": {"ban": "50"}},
        {"type": "m.room.power_levels", "state_key": "", "content": {"kick": True}},
        {"type": "m.room.power_levels", "state_key": "", "content": {"events": {"m.room.name": "50"}}},
        {"type": "m.room.power_levels", "state_key": "", "content": {"users": {"not-a-user": 50}}},
        {"type": "m.room.power_levels", "state_key": "", "content": {"users": ["@u:example.org"]}},
        {"type": "m.room.redaction", "content": {}},
        {"type": "m.room.redaction", "content": {"redacts": "not-an-event-id"}},
        {"type": "X", "state_key": 5, "content": {}},
        {"type": "X", "content": None},
    ],
)
def test_client_rules_reject_with_bad_json(template: dict) -> None:
    with pytest.raises(SynapseError) as info:
        validate_client_content(template, V11)
    assert (info.value.code, info.value.errcode) == (400, Codes.BAD_JSON)


@pytest.mark.parametrize(
    "content", [{"alias": "not-an-alias"}, {"alt_aliases": ["#ok:example.org", "bad"]}, {"alt_aliases": "#a:b"}]
)
def test_canonical_alias_content(content: dict) -> None:
    with pytest.raises(SynapseError) as info:
        validate_client_content({"type": "m.room.canonical_alias", "state_key": "", "content": content}, V11)
    assert info.value.errcode == Codes.INVALID_PARAM


@pytest.mark.parametrize(
    "template,room_version",
    [
        ({"type": "m.room.member", "state_key": "@u:e", "content": {"membership": "join"}}, V11),
        (
            {
                "type": "m.room.power_levels",
                "state_key": "",
                "content": {"ban": 50, "users": {"@u:e": 100}, "events": {}},
            },
            V11,
        ),
        ({"type": "m.room.canonical_alias", "state_key": "", "content": {"alias": None, "alt_aliases": ["#a:e"]}}, V11),
        ({"type": "m.room.redaction", "content": {"redacts": "$t"}}, V11),
        ({"type": "m.room.redaction", "content": {"redacts": "$t"}}, V4),
        ({"type": "m.room.redaction", "redacts": "$t", "content": {}}, V4),
    ],
)
def test_client_rules_accept_good_content(template: dict, room_version) -> None:
    validate_client_content(template, room_version)


def test_federation_events_skip_client_rules() -> None:
    member = _event(type="m.room.member", state_key="@u:example.org", content={})
    validate_event_for_room_version(member, V11, client_rules=False)
    assert _error(member, V11).errcode == Codes.BAD_JSON


def test_unsigned_is_not_held_to_canonical_json() -> None:
    validate_event_for_room_version(_event(unsigned={"age": 1.5}), V11)
