"""Client-Server event formats: ClientEvent, the /sync form, legacy v1, stripped and federation."""

from signedjson.key import generate_signing_key

from synapse.events.builder import build_event
from synapse.events.model import FrozenEvent, InternalMetadata
from synapse.events.redaction import prune_event
from synapse.events.room_versions import KNOWN_ROOM_VERSIONS, RoomVersion
from synapse.events.serialize import serialize_event, serialize_events, strip_event, to_legacy_event_format

KEY = generate_signing_key("k")
ALICE = "@alice:example.org"
ROOM = "!room:example.org"
V4, V10, V11, V12 = (KNOWN_ROOM_VERSIONS[v] for v in ("4", "10", "11", "12"))


def _build(room_version: RoomVersion, template: dict, ts: int = 1000, metadata=None) -> FrozenEvent:
    return build_event(room_version, template, [], [], 1, "example.org", KEY, ts, internal_metadata=metadata)


def _message(room_version: RoomVersion = V11, **metadata: object) -> FrozenEvent:
    return _build(
        room_version,
        {"type": "m.room.message", "sender": ALICE, "room_id": ROOM, "content": {"body": "hi"}},
        metadata=InternalMetadata(**metadata),
    )


def test_client_event_shape() -> None:
    event = _message()
    client = serialize_event(event, now_ms=1500)
    assert client == {
        "content": {"body": "hi"},
        "event_id": event.event_id,
        "origin_server_ts": 1000,
        "room_id": ROOM,
        "sender": ALICE,
        "type": "m.room.message",
        "unsigned": {"age": 500},
    }


def test_state_event_has_state_key_and_unsigned_extras() -> None:
    event = _build(
        V11,
        {
            "type": "m.room.topic",
            "state_key": "",
            "sender": ALICE,
            "room_id": ROOM,
            "content": {"topic": "t"},
            "unsigned": {"prev_content": {"topic": "old"}, "replaces_state": "$old", "age_ts": 900},
        },
    )
    client = serialize_event(event, now_ms=1000)
    assert client["state_key"] == ""
    # age counts from when this server received the event (age_ts) when known
    assert client["unsigned"] == {"age": 100, "prev_content": {"topic": "old"}, "replaces_state": "$old"}
    assert "hashes" not in client and "signatures" not in client and "depth" not in client


def test_sync_form_has_no_room_id() -> None:
    assert "room_id" not in serialize_event(_message(), 1000, include_room_id=False)


def test_transaction_id_only_for_the_sending_device() -> None:
    event = _message(txn_id="txn1", device_id="DEV")
    assert serialize_event(event, 1000, requester_device_id="DEV")["unsigned"]["transaction_id"] == "txn1"
    assert "transaction_id" not in serialize_event(event, 1000, requester_device_id="OTHER")["unsigned"]
    assert "transaction_id" not in serialize_event(event, 1000)["unsigned"]
    assert (
        "transaction_id"
        not in serialize_event(event, 1000, requester_device_id="DEV", requester_user_id="@bob:example.org")["unsigned"]
    )
    assert (
        "transaction_id" in serialize_event(event, 1000, requester_device_id="DEV", requester_user_id=ALICE)["unsigned"]
    )


def test_redacts_in_both_places_for_every_version() -> None:
    for room_version in (V10, V11):
        redaction = _build(
            room_version,
            {
                "type": "m.room.redaction",
                "sender": ALICE,
                "room_id": ROOM,
                "content": {"reason": "spam"},
                "redacts": "$target",
            },
        )
        client = serialize_event(redaction, 1000)
        assert client["redacts"] == "$target"
        assert client["content"] == {"reason": "spam", "redacts": "$target"}
        assert "redacts" not in redaction.content or room_version.redacts_in_content  # event itself untouched


def test_redacted_event_carries_redacted_because() -> None:
    event = _message()
    redaction = _build(
        V11,
        {"type": "m.room.redaction", "sender": ALICE, "room_id": ROOM, "content": {"redacts": event.event_id}},
        ts=2000,
    )
    client = serialize_event(prune_event(event, redaction), now_ms=3000, include_room_id=False)
    assert client["content"] == {}
    assert client["unsigned"]["age"] == 2000
    because = client["unsigned"]["redacted_because"]
    assert because["event_id"] == redaction.event_id
    assert because["redacts"] == event.event_id and because["content"] == {"redacts": event.event_id}
    assert because["unsigned"] == {"age": 1000}
    assert "room_id" not in because and "hashes" not in because


def test_v12_create_event_gets_its_derived_room_id() -> None:
    create = _build(V12, {"type": "m.room.create", "state_key": "", "sender": ALICE, "content": {"room_version": "12"}})
    assert serialize_event(create, 1000)["room_id"] == "!" + create.event_id[1:]


def test_federation_format() -> None:
    event = _message(V4)
    federation = serialize_event(event, 1500, as_client_event=False)
    assert federation["event_id"] == event.event_id
    assert federation["hashes"] == event.hashes and federation["signatures"] == event.signatures
    assert federation["depth"] == 1 and federation["unsigned"] == {"age": 500}


def test_legacy_format_lifts_unsigned_keys() -> None:
    event = _build(
        V11,
        {
            "type": "m.room.topic",
            "state_key": "",
            "sender": ALICE,
            "room_id": ROOM,
            "content": {"topic": "t"},
            "unsigned": {"prev_content": {"topic": "old"}},
        },
    )
    legacy = to_legacy_event_format(serialize_event(event, 1100))
    assert legacy["user_id"] == ALICE
    assert legacy["age"] == 100 and legacy["prev_content"] == {"topic": "old"}
    assert legacy["unsigned"]["age"] == 100


def test_stripped_state() -> None:
    event = _build(
        V11, {"type": "m.room.name", "state_key": "", "sender": ALICE, "room_id": ROOM, "content": {"name": "n"}}
    )
    assert strip_event(event) == {"type": "m.room.name", "state_key": "", "content": {"name": "n"}, "sender": ALICE}


def test_serialize_events_applies_options_to_all() -> None:
    events = [_message(), _message(V4)]
    out = serialize_events(events, 2000, include_room_id=False)
    assert [e["event_id"] for e in out] == [e.event_id for e in events]
    assert all("room_id" not in e for e in out)


def test_serialising_does_not_mutate_the_event() -> None:
    redaction = _build(
        V10, {"type": "m.room.redaction", "sender": ALICE, "room_id": ROOM, "content": {}, "redacts": "$t"}
    )
    serialize_event(redaction, 1000)["content"]["extra"] = 1
    assert redaction.content == {}
