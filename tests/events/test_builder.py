"""Building, hashing and signing new events in each room version's format."""

import pytest
from signedjson.key import generate_signing_key, get_verify_key
from unpaddedbase64 import encode_base64

from synapse.events.builder import build_event
from synapse.events.hashing import check_content_hash, compute_event_reference_hash
from synapse.events.model import FrozenEvent, InternalMetadata
from synapse.events.room_versions import KNOWN_ROOM_VERSIONS, RoomVersion
from synapse.events.signing import verify_event_signature
from synapse.events.validation import validate_event_for_room_version

KEY = generate_signing_key("k1")
VERIFY_KEY = get_verify_key(KEY)
ORIGIN = "example.org"
ALICE = "@alice:example.org"


def _build(room_version: RoomVersion, template: dict, prev=(), auth=(), depth=1, **kwargs) -> FrozenEvent:
    return build_event(
        room_version, template, list(prev), list(auth), depth, ORIGIN, KEY, origin_server_ts=1000, **kwargs
    )


def _create(room_version: RoomVersion) -> FrozenEvent:
    template = {
        "type": "m.room.create",
        "state_key": "",
        "sender": ALICE,
        "content": {"room_version": room_version.identifier},
    }
    if not room_version.room_id_from_create_event:
        template["room_id"] = "!room:example.org"
    return _build(room_version, template)


def _room_id(create: FrozenEvent) -> str:
    return create.room_id


@pytest.mark.parametrize("version", ["1", "3", "4", "11", "12"])
def test_built_events_are_hashed_signed_and_valid(version: str) -> None:
    rv = KNOWN_ROOM_VERSIONS[version]
    create = _create(rv)
    member = _build(
        rv,
        {
            "type": "m.room.member",
            "state_key": ALICE,
            "sender": ALICE,
            "room_id": _room_id(create),
            "content": {"membership": "join"},
        },
        prev=[create],
        auth=[create],
        depth=2,
    )
    for event in (create, member):
        pdu = event.get_pdu_json()
        assert check_content_hash(pdu)
        assert verify_event_signature(pdu, ORIGIN, VERIFY_KEY, rv)
        validate_event_for_room_version(event.get_dict(), rv)
        assert pdu["origin_server_ts"] == 1000
    assert member.depth == 2
    assert member.prev_event_ids() == [create.event_id]


def test_v1_references_and_event_ids() -> None:
    rv = KNOWN_ROOM_VERSIONS["1"]
    create = _build(
        rv,
        {"type": "m.room.create", "state_key": "", "sender": ALICE, "room_id": "!r:example.org", "content": {}},
        event_id_localpart_factory=lambda: "abc",
    )
    assert create.event_id == "$abc:example.org"
    assert create.get("origin") == ORIGIN
    message = _build(
        rv,
        {"type": "m.room.message", "sender": ALICE, "room_id": "!r:example.org", "content": {"body": "x"}},
        prev=[create],
        auth=[create],
        depth=2,
    )
    expected_ref = [create.event_id, {"sha256": encode_base64(compute_event_reference_hash(create.get_pdu_json(), rv))}]
    assert message.get("prev_events") == [expected_ref]
    assert message.get("auth_events") == [expected_ref]
    assert message.event_id.endswith(":example.org") and message.event_id != create.event_id


@pytest.mark.parametrize("version,alphabet_marker", [("3", "standard"), ("4", "urlsafe")])
def test_hash_event_ids(version: str, alphabet_marker: str) -> None:
    rv = KNOWN_ROOM_VERSIONS[version]
    create = _create(rv)
    assert "event_id" not in create.get_dict()
    assert create.event_id.startswith("$") and len(create.event_id) == 44
    message = _build(
        rv,
        {"type": "m.room.message", "sender": ALICE, "room_id": "!room:example.org", "content": {}},
        prev=[create],
        auth=[create],
        depth=2,
    )
    assert message.get("prev_events") == [create.event_id]
    forbidden = "-_" if alphabet_marker == "standard" else "+/"
    # over a few events at least one id shows alphabet-specific characters; none show the other's
    ids = [
        _build(
            rv,
            {"type": "m.room.message", "sender": ALICE, "room_id": "!room:example.org", "content": {"n": n}},
            depth=n,
        ).event_id
        for n in range(40)
    ]
    assert not any(c in forbidden for i in ids for c in i)
    own = "+/" if alphabet_marker == "standard" else "-_"
    assert any(c in own for i in ids for c in i)


def test_origin_only_before_v11() -> None:
    for version, has_origin in (("4", True), ("10", True), ("11", False), ("12", False)):
        assert ("origin" in _create(KNOWN_ROOM_VERSIONS[version]).get_dict()) is has_origin


def test_v12_create_has_no_room_id_and_names_the_room() -> None:
    rv = KNOWN_ROOM_VERSIONS["12"]
    create = _build(
        rv,
        {
            "type": "m.room.create",
            "state_key": "",
            "sender": ALICE,
            "room_id": "!ignored:example.org",
            "content": {"room_version": "12"},
        },
    )
    assert "room_id" not in create.get_dict()
    assert create.room_id == "!" + create.event_id[1:]
    assert create.get("prev_events") == [] and create.get("auth_events") == []


def test_v12_auth_events_never_cite_the_create_event() -> None:
    rv = KNOWN_ROOM_VERSIONS["12"]
    create = _create(rv)
    join = _build(
        rv,
        {
            "type": "m.room.member",
            "state_key": ALICE,
            "sender": ALICE,
            "room_id": create.room_id,
            "content": {"membership": "join"},
        },
        prev=[create],
        auth=[create],
        depth=2,
    )
    assert join.auth_event_ids() == []
    message = _build(
        rv,
        {"type": "m.room.message", "sender": ALICE, "room_id": create.room_id, "content": {}},
        prev=[join],
        auth=[create, join],
        depth=3,
    )
    assert message.auth_event_ids() == [join.event_id]
    # v11 keeps citing it
    rv11 = KNOWN_ROOM_VERSIONS["11"]
    create11 = _create(rv11)
    join11 = _build(
        rv11,
        {
            "type": "m.room.member",
            "state_key": ALICE,
            "sender": ALICE,
            "room_id": "!room:example.org",
            "content": {"membership": "join"},
        },
        prev=[create11],
        auth=[create11],
        depth=2,
    )
    assert join11.auth_event_ids() == [create11.event_id]


def test_create_events_get_no_prev_or_auth_events() -> None:
    rv = KNOWN_ROOM_VERSIONS["4"]
    other = _create(rv)
    create = _build(
        rv,
        {"type": "m.room.create", "state_key": "", "sender": ALICE, "room_id": "!x:example.org", "content": {}},
        prev=[other],
        auth=[other],
    )
    assert create.prev_event_ids() == [] and create.auth_event_ids() == []


def test_redacts_placement_per_version() -> None:
    for version, top_level in (("10", True), ("11", False)):
        rv = KNOWN_ROOM_VERSIONS[version]
        for template_extra, content in (({"redacts": "$t"}, {}), ({}, {"redacts": "$t"})):
            event = _build(
                rv,
                {
                    "type": "m.room.redaction",
                    "sender": ALICE,
                    "room_id": "!room:example.org",
                    "content": dict(content),
                    **template_extra,
                },
            )
            assert event.redacts == "$t"
            assert (event.get("redacts") == "$t") is top_level
            if not top_level:
                assert event.content["redacts"] == "$t" and "redacts" not in event.get_dict()


def test_builder_owned_keys_are_replaced_and_template_untouched() -> None:
    rv = KNOWN_ROOM_VERSIONS["11"]
    template = {
        "type": "m.room.message",
        "sender": ALICE,
        "room_id": "!room:example.org",
        "content": {"body": "x"},
        "hashes": {"sha256": "fake"},
        "signatures": {"evil.org": {"ed25519:1": "x"}},
        "depth": 99,
        "event_id": "$bogus",
    }
    snapshot = dict(template)
    event = _build(rv, template, depth=3)
    assert template == snapshot
    assert event.depth == 3
    assert set(event.signatures) == {ORIGIN}
    assert "event_id" not in event.get_dict()


def test_depth_is_capped_per_version() -> None:
    huge = 2**60
    assert (
        _build(
            KNOWN_ROOM_VERSIONS["5"], {"type": "X", "sender": ALICE, "room_id": "!r:e", "content": {}}, depth=huge
        ).depth
        == huge
    )
    assert (
        _build(
            KNOWN_ROOM_VERSIONS["6"], {"type": "X", "sender": ALICE, "room_id": "!r:e", "content": {}}, depth=huge
        ).depth
        == 2**53 - 1
    )


def test_internal_metadata_is_attached() -> None:
    metadata = InternalMetadata(txn_id="t", device_id="D")
    event = _build(
        KNOWN_ROOM_VERSIONS["11"],
        {"type": "X", "sender": ALICE, "room_id": "!r:e", "content": {}},
        internal_metadata=metadata,
    )
    assert event.internal_metadata is metadata
