"""JSON and event signing: the appendix's cryptographic test vectors, and verification."""

import copy

from signedjson.key import decode_signing_key_base64, generate_signing_key, get_verify_key

from synapse.events.hashing import add_content_hash
from synapse.events.redaction import prune_event_dict
from synapse.events.room_versions import KNOWN_ROOM_VERSIONS
from synapse.events.signing import (
    compute_event_signature,
    sign_event,
    sign_json,
    signature_key_ids,
    verify_event_signature,
    verify_json,
)

# appendices.md "Cryptographic Test Vectors"
SPEC_KEY = decode_signing_key_base64("ed25519", "1", "YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1")
SPEC_VERIFY_KEY = get_verify_key(SPEC_KEY)
V1 = KNOWN_ROOM_VERSIONS["1"]
V11 = KNOWN_ROOM_VERSIONS["11"]


def test_sign_empty_object() -> None:
    assert sign_json({}, "domain", SPEC_KEY) == {
        "signatures": {
            "domain": {
                "ed25519:1": "K8280/U9SSy9IVtjBuVeLr+HpOB4BQFWbg+UZaADMtTdGYI7Geitb76LTrr5QV/7Xg4ahLwYGYZzuHGZKM5ZAQ"
            }
        }
    }


def test_sign_object_with_data() -> None:
    assert sign_json({"one": 1, "two": "Two"}, "domain", SPEC_KEY) == {
        "one": 1,
        "signatures": {
            "domain": {
                "ed25519:1": "KqmLSbO39/Bzb0QIYE82zqLwsA+PDzYIpIRA2sRQ4sL53+sN6/fpNSoqE7BP7vBZhG6kYdD13EIMJpvhJI+6Bw"
            }
        },
        "two": "Two",
    }


def test_sign_json_does_not_modify_input_and_keeps_other_signatures() -> None:
    original = {"a": 1, "signatures": {"other": {"ed25519:x": "sig"}}, "unsigned": {"age": 5}}
    before = copy.deepcopy(original)
    signed = sign_json(original, "domain", SPEC_KEY)
    assert original == before
    assert signed["signatures"]["other"] == {"ed25519:x": "sig"}
    assert signed["unsigned"] == {"age": 5}
    assert verify_json(signed, "domain", SPEC_VERIFY_KEY)


def test_verify_json_rejects_tampering_and_wrong_key() -> None:
    signed = sign_json({"a": 1}, "domain", SPEC_KEY)
    assert verify_json(signed, "domain", SPEC_VERIFY_KEY)
    assert not verify_json({**signed, "a": 2}, "domain", SPEC_VERIFY_KEY)
    assert not verify_json(signed, "other", SPEC_VERIFY_KEY)
    other_key = get_verify_key(generate_signing_key("1"))
    assert not verify_json(signed, "domain", other_key)
    # unsigned is not covered
    assert verify_json({**signed, "unsigned": {"age": 1}}, "domain", SPEC_VERIFY_KEY)
    assert not verify_json({"a": 1, "signatures": ["junk"]}, "domain", SPEC_VERIFY_KEY)


def test_signature_key_ids_lists_supported_algorithms_only() -> None:
    obj = {"signatures": {"domain": {"ed25519:1": "x", "ed25519:2": "y", "curve9:3": "z"}}}
    assert sorted(signature_key_ids(obj, "domain")) == ["ed25519:1", "ed25519:2"]
    assert signature_key_ids(obj, "elsewhere") == []
    assert signature_key_ids({}, "domain") == []


def _minimal_event() -> dict:
    return {
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


def test_spec_minimal_event_signing() -> None:
    event = add_content_hash(_minimal_event())
    signed = sign_event(event, "domain", SPEC_KEY, V1)
    assert signed == {
        "auth_events": [],
        "content": {},
        "depth": 3,
        "hashes": {"sha256": "5jM4wQpv6lnBo7CLIghJuHdW+s2CMBJPUOGOC89ncos"},
        "origin": "domain",
        "origin_server_ts": 1000000,
        "prev_events": [],
        "room_id": "!x:domain",
        "sender": "@a:domain",
        "signatures": {
            "domain": {
                "ed25519:1": "KxwGjPSDEtvnFgU00fwFz+l6d2pJM6XBIaMEn81SXPTRl16AqLAYqfIReFGZlHi5KLjAWbOoMszkwsQma+lYAg"
            }
        },
        "type": "X",
        "unsigned": {"age_ts": 1000000},
    }


def test_spec_redactable_event_signing() -> None:
    event = {
        "content": {"body": "Here is the message content"},
        "event_id": "$0:domain",
        "origin": "domain",
        "origin_server_ts": 1000000,
        "type": "m.room.message",
        "room_id": "!r:domain",
        "sender": "@u:domain",
        "signatures": {},
        "unsigned": {"age_ts": 1000000},
    }
    signed = sign_event(add_content_hash(event), "domain", SPEC_KEY, V1)
    assert signed["hashes"] == {"sha256": "onLKD1bGljeBWQhWZ1kaP9SorVmRQNdN5aM2JYU2n/g"}
    assert signed["signatures"] == {
        "domain": {
            "ed25519:1": "Wm+VzmOUOz08Ds+0NTWb1d4CZrVsJSikkeRxh6aCcUwu6pNC78FunoD7KNWzqFn241eYHYMGCA5McEiVPdhzBA"
        }
    }
    assert signed["content"] == {"body": "Here is the message content"}
    assert signed["unsigned"] == {"age_ts": 1000000}


def test_event_signature_survives_redaction_but_not_tampering() -> None:
    event = add_content_hash(
        {
            "content": {"body": "hello"},
            "origin_server_ts": 1,
            "type": "m.room.message",
            "room_id": "!r:domain",
            "sender": "@u:domain",
            "prev_events": [],
            "auth_events": [],
            "depth": 2,
        }
    )
    signed = sign_event(event, "domain", SPEC_KEY, V11)
    assert verify_event_signature(signed, "domain", SPEC_VERIFY_KEY, V11)
    # a redacted copy still verifies
    assert verify_event_signature(prune_event_dict(V11, signed), "domain", SPEC_VERIFY_KEY, V11)
    # changing redactable content does not break the signature (the hash check catches it)...
    assert verify_event_signature({**signed, "content": {"body": "bye"}}, "domain", SPEC_VERIFY_KEY, V11)
    # ...but changing a protected key does
    assert not verify_event_signature({**signed, "depth": 3}, "domain", SPEC_VERIFY_KEY, V11)
    assert not verify_event_signature({**signed, "hashes": {"sha256": "AAAA"}}, "domain", SPEC_VERIFY_KEY, V11)
    assert not verify_event_signature(signed, "elsewhere", SPEC_VERIFY_KEY, V11)


def test_origin_is_signed_before_v11_only() -> None:
    base = add_content_hash({**_minimal_event(), "hashes": {}})
    for version, origin_covered in ((V1, True), (V11, False)):
        signed = sign_event(base, "domain", SPEC_KEY, version)
        tampered = {**signed, "origin": "evil"}
        assert verify_event_signature(tampered, "domain", SPEC_VERIFY_KEY, version) is not origin_covered


def test_sign_event_keeps_existing_signatures() -> None:
    event = add_content_hash(_minimal_event())
    theirs = sign_event(event, "remote", generate_signing_key("k"), V1)
    both = sign_event(theirs, "domain", SPEC_KEY, V1)
    assert set(both["signatures"]) == {"remote", "domain"}
    assert both["signatures"]["remote"] == theirs["signatures"]["remote"]
    assert "domain" not in theirs["signatures"]
    assert compute_event_signature(V1, event, "domain", SPEC_KEY) == {"domain": both["signatures"]["domain"]}
