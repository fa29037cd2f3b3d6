"""Content hashes, reference hashes and hash-derived event ids."""

import hashlib
import json

import pytest
from unpaddedbase64 import encode_base64

from synapse.events.hashing import (
    add_content_hash,
    check_content_hash,
    compute_content_hash,
    compute_event_id,
    compute_event_reference_hash,
    event_reference,
)
from synapse.events.model import FrozenEvent
from synapse.events.room_versions import KNOWN_ROOM_VERSIONS
from synapse.util.json import encode_canonical_json

V1, V3, V4, V11, V12 = (KNOWN_ROOM_VERSIONS[v] for v in ("1", "3", "4", "11", "12"))

# A real room v5 create event sent by jki.re in 2019 (public federation
# data); its id is known in both the v3 (standard) and v4+ (URL-safe) alphabets.
REAL_CREATE_EVENT = json.loads(
    r"""{"auth_events": [], "prev_events": [], "type": "m.room.create", "room_id": "!uXDCzlYgCTHtiWCkEx:jki.re",
    "sender": "@erikj:jki.re", "content": {"room_version": "5", "predecessor": {"room_id":
    "!gdRMqOrTFdOCYHNwOo:half-shot.uk", "event_id": "$LP7ROBc4b+cMc1UE9haIz8q5AK2AIW4eJ90FfKLvyZI"},
    "creator": "@erikj:jki.re"}, "depth": 1, "prev_state": [], "state_key": "", "origin": "jki.re",
    "origin_server_ts": 1560284621137, "hashes": {"sha256": "IX6zuNiJpJPNf70BLleL3HSCpjKeq9Uhu7uUpyDjBmc"},
    "signatures": {"jki.re": {"ed25519:auto":
    "O4IyFfF2PPtGp5uaDm8t57dZbdh8vc8Q64LgCwvzYRVItAMI0uisfiAFaxkVT7MRpzh6N2QNN5NMRXZKmgPYDA"}},
    "unsigned": {"age": 1321650}}"""
)


def test_real_event_content_hash_checks() -> None:
    assert check_content_hash(REAL_CREATE_EVENT)
    algorithm, digest = compute_content_hash(REAL_CREATE_EVENT)
    assert algorithm == "sha256"
    assert encode_base64(digest) == "IX6zuNiJpJPNf70BLleL3HSCpjKeq9Uhu7uUpyDjBmc"


def test_real_event_id_in_both_alphabets() -> None:
    assert compute_event_id(REAL_CREATE_EVENT, V3) == "$RrGxF28UrHLmoASHndYb9Jb/1SFww2ptmtur9INS438"
    assert (
        compute_event_id(REAL_CREATE_EVENT, KNOWN_ROOM_VERSIONS["5"]) == "$RrGxF28UrHLmoASHndYb9Jb_1SFww2ptmtur9INS438"
    )
    assert FrozenEvent(REAL_CREATE_EVENT, V4).event_id == "$RrGxF28UrHLmoASHndYb9Jb_1SFww2ptmtur9INS438"


def test_spec_minimal_event_content_hash() -> None:
    event = {
        "room_id": "!x:domain",
        "sender": "@a:domain",
        "origin": "domain",
        "origin_server_ts": 1000000,
        "signatures": {},
        "hashes": {},
        "type": "X",
        "content": {},
        "prev_events": [],
        "auth_events": [],
        "depth": 3,
        "unsigned": {"age_ts": 1000000},
    }
    assert add_content_hash(event)["hashes"] == {"sha256": "5jM4wQpv6lnBo7CLIghJuHdW+s2CMBJPUOGOC89ncos"}
    assert check_content_hash(event)


def test_content_hash_ignores_unsigned_signatures_and_hashes() -> None:
    event = add_content_hash({"type": "m.room.message", "content": {"body": "hi"}, "sender": "@a:b"})
    varied = {**event, "unsigned": {"age": 4}, "signatures": {"b": {"ed25519:x": "sig"}}}
    assert check_content_hash(varied)
    assert not check_content_hash({**event, "content": {"body": "changed"}})


@pytest.mark.parametrize(
    "hashes", [None, {}, {"sha256": 5}, {"sha256": "!!!not base64!!!"}, {"sha512": "AAAA"}, "sha256"]
)
def test_missing_or_malformed_hash_fails_check(hashes: object) -> None:
    event = {"type": "X", "content": {}, "sender": "@a:b"}
    if hashes is not None:
        event["hashes"] = hashes
    assert not check_content_hash(event)


def test_add_content_hash_keeps_other_algorithms() -> None:
    event = add_content_hash({"type": "X", "content": {}, "hashes": {"sha512": "x"}})
    assert set(event["hashes"]) == {"sha256", "sha512"}


def _v4_event(**overrides: object) -> dict:
    event = {
        "type": "m.room.message",
        "room_id": "!r:example.org",
        "sender": "@u:example.org",
        "content": {"body": "hello"},
        "prev_events": ["$prev"],
        "auth_events": ["$auth"],
        "depth": 5,
        "origin_server_ts": 1234,
        "hashes": {"sha256": "abc"},
        "signatures": {"example.org": {"ed25519:1": "sig"}},
        "unsigned": {"age": 10},
    }
    event.update(overrides)
    return event


def test_reference_hash_is_sha256_of_redacted_event_without_signatures() -> None:
    event = _v4_event()
    expected_object = {key: value for key, value in event.items() if key not in ("signatures", "unsigned")}
    expected_object["content"] = {}  # m.room.message content is redacted
    expected = hashlib.sha256(encode_canonical_json(expected_object)).digest()
    assert compute_event_reference_hash(event, V4) == expected


def test_event_id_survives_redaction_unsigned_and_signature_changes() -> None:
    event_id = compute_event_id(_v4_event(), V11)
    assert compute_event_id(_v4_event(content={"body": "other"}), V11) == event_id
    assert compute_event_id(_v4_event(unsigned={"age": 99}), V11) == event_id
    assert compute_event_id(_v4_event(signatures={}), V11) == event_id
    assert compute_event_id(_v4_event(hashes={"sha256": "other"}), V11) != event_id
    assert compute_event_id(_v4_event(depth=6), V11) != event_id


def test_event_id_format_is_unpadded() -> None:
    event_id = compute_event_id(_v4_event(), V4)
    assert event_id.startswith("$") and len(event_id) == 44 and "=" not in event_id


def test_v1_event_ids_are_not_computed() -> None:
    with pytest.raises(ValueError):
        compute_event_id(_v4_event(), V1)


def test_v12_create_event_names_its_room() -> None:
    create = {
        "type": "m.room.create",
        "state_key": "",
        "sender": "@u:example.org",
        "content": {"room_version": "12"},
        "prev_events": [],
        "auth_events": [],
        "depth": 1,
        "origin_server_ts": 1,
        "hashes": {"sha256": "abc"},
        "signatures": {},
    }
    event = FrozenEvent(create, V12)
    assert event.event_id == compute_event_id(create, V12)
    assert event.room_id == "!" + event.event_id[1:]


def test_v1_event_reference_pairs_id_with_reference_hash() -> None:
    event = {**_v4_event(prev_events=[], auth_events=[]), "event_id": "$e:example.org"}
    ref = event_reference(event, V1, "$e:example.org")
    assert ref == ["$e:example.org", {"sha256": encode_base64(compute_event_reference_hash(event, V1))}]
