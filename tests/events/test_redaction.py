"""The redaction algorithm for every room version (rooms/vN "Redactions")."""

import pytest

from synapse.events.model import FrozenEvent, InternalMetadata
from synapse.events.redaction import is_redacted, prune_event, prune_event_dict
from synapse.events.room_versions import KNOWN_ROOM_VERSIONS

ALL_VERSIONS = [str(v) for v in range(1, 13)]
PRE_V11 = [str(v) for v in range(1, 11)]
V11_ON = ["11", "12"]


def _event(event_type: str, content: dict, **extra: object) -> dict:
    event = {
        "event_id": "$e:example.org",
        "type": event_type,
        "room_id": "!r:example.org",
        "sender": "@u:example.org",
        "state_key": "",
        "content": content,
        "hashes": {"sha256": "h"},
        "signatures": {"example.org": {"ed25519:1": "s"}},
        "depth": 4,
        "prev_events": ["$p"],
        "auth_events": ["$a"],
        "origin_server_ts": 1,
        "origin": "example.org",
        "membership": "join",
        "prev_state": [],
        "unsigned": {"age_ts": 1},
        "other_key": "dropped",
    }
    event.update(extra)
    return event


def _prune(version: str, event: dict) -> dict:
    return prune_event_dict(KNOWN_ROOM_VERSIONS[version], event)


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_top_level_keys(version: str) -> None:
    pruned = _prune(version, _event("m.room.message", {"body": "x"}))
    always = {
        "event_id",
        "type",
        "room_id",
        "sender",
        "state_key",
        "content",
        "hashes",
        "signatures",
        "depth",
        "prev_events",
        "auth_events",
        "origin_server_ts",
    }
    expected = always if version in V11_ON else always | {"origin", "membership", "prev_state"}
    assert set(pruned) == expected
    assert pruned["content"] == {}


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_member_content(version: str) -> None:
    content = {
        "membership": "join",
        "displayname": "Alice",
        "join_authorised_via_users_server": "@admin:example.org",
        "third_party_invite": {"display_name": "a", "signed": {"mxid": "@u:example.org", "token": "t"}},
    }
    pruned = _prune(version, _event("m.room.member", content))["content"]
    expected: dict = {"membership": "join"}
    if int(version) >= 9:
        expected["join_authorised_via_users_server"] = "@admin:example.org"
    if version in V11_ON:
        expected["third_party_invite"] = {"signed": {"mxid": "@u:example.org", "token": "t"}}
    assert pruned == expected


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_create_content(version: str) -> None:
    content = {"creator": "@u:example.org", "room_version": version, "m.federate": False}
    pruned = _prune(version, _event("m.room.create", content))["content"]
    assert pruned == (content if version in V11_ON else {"creator": "@u:example.org"})


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_join_rules_content(version: str) -> None:
    content = {"join_rule": "restricted", "allow": [{"type": "m.room_membership"}], "extra": 1}
    pruned = _prune(version, _event("m.room.join_rules", content))["content"]
    if int(version) >= 8:
        assert pruned == {"join_rule": "restricted", "allow": [{"type": "m.room_membership"}]}
    else:
        assert pruned == {"join_rule": "restricted"}


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_power_levels_content(version: str) -> None:
    kept = {
        "ban": 50,
        "events": {"m.room.name": 50},
        "events_default": 0,
        "kick": 50,
        "redact": 50,
        "state_default": 50,
        "users": {"@u:example.org": 100},
        "users_default": 0,
    }
    content = {**kept, "invite": 0, "notifications": {"room": 50}}
    pruned = _prune(version, _event("m.room.power_levels", content))["content"]
    assert pruned == ({**kept, "invite": 0} if version in V11_ON else kept)


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_aliases_content(version: str) -> None:
    pruned = _prune(version, _event("m.room.aliases", {"aliases": ["#a:example.org"]}))["content"]
    assert pruned == ({"aliases": ["#a:example.org"]} if int(version) <= 5 else {})


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_history_visibility_content(version: str) -> None:
    content = {"history_visibility": "shared", "x": 1}
    assert _prune(version, _event("m.room.history_visibility", content))["content"] == {"history_visibility": "shared"}


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_redaction_content(version: str) -> None:
    event = _event("m.room.redaction", {"redacts": "$target", "reason": "spam"}, redacts="$target")
    event.pop("state_key")
    pruned = _prune(version, event)
    assert "redacts" not in pruned  # top-level redacts was never protected
    assert pruned["content"] == ({"redacts": "$target"} if version in V11_ON else {})


def test_third_party_invite_without_signed_is_dropped_in_v11() -> None:
    content = {"membership": "invite", "third_party_invite": {"display_name": "a"}}
    assert _prune("11", _event("m.room.member", content))["content"] == {"membership": "invite"}


def test_pruning_copies_and_is_idempotent() -> None:
    event = _event("m.room.power_levels", {"users": {"@u:example.org": 100}})
    pruned = _prune("10", event)
    pruned["content"]["users"]["@x:example.org"] = 1
    assert event["content"]["users"] == {"@u:example.org": 100}
    assert _prune("10", _prune("10", event)) == _prune("10", event)


def test_non_object_content_prunes_to_empty() -> None:
    assert _prune("11", _event("m.room.create", "nonsense"))["content"] == {}


def test_prune_event_keeps_metadata_and_records_redaction() -> None:
    v11 = KNOWN_ROOM_VERSIONS["11"]
    original = _event("m.room.message", {"body": "secret"}, unsigned={"age_ts": 7, "replaces_state": "$s", "x": 1})
    original.pop("event_id")
    metadata = InternalMetadata(stream_ordering=12, txn_id="t1", device_id="D")
    event = FrozenEvent(original, v11, metadata)
    redaction_dict = _event("m.room.redaction", {"redacts": event.event_id})
    del redaction_dict["event_id"], redaction_dict["state_key"]
    redaction = FrozenEvent(redaction_dict, v11)

    pruned = prune_event(event, redaction)
    assert pruned.event_id == event.event_id
    assert pruned.content == {}
    assert pruned.internal_metadata.stream_ordering == 12
    assert pruned.internal_metadata.txn_id == "t1"
    assert pruned.internal_metadata.redacted_by == redaction.event_id
    assert event.internal_metadata.redacted_by is None  # original untouched
    assert pruned.unsigned["age_ts"] == 7 and pruned.unsigned["replaces_state"] == "$s"
    assert "x" not in pruned.unsigned
    because = pruned.unsigned["redacted_because"]
    assert because["event_id"] == redaction.event_id and because["type"] == "m.room.redaction"
    assert is_redacted(pruned) and not is_redacted(event)


def test_prune_event_without_redaction_event() -> None:
    event = FrozenEvent(_event("m.room.message", {"body": "x"}), KNOWN_ROOM_VERSIONS["1"])
    pruned = prune_event(event)
    assert pruned.event_id == "$e:example.org"
    assert "redacted_because" not in pruned.unsigned
