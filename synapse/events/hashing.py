"""Content hashes, reference hashes and hash-derived event ids.

The content hash covers the whole event as sent (so tampering with
redactable content is detectable); the reference hash covers only the
redacted form (so it survives redaction) and is the event id from room
version 3 on. See server-server-api "Calculating the content/reference
hash for an event".
"""

import hashlib
from typing import Any

from unpaddedbase64 import decode_base64, encode_base64

from synapse.events.model import JsonDict
from synapse.events.redaction import prune_event_dict
from synapse.events.room_versions import EventFormat, RoomVersion
from synapse.util.json import encode_canonical_json

CONTENT_HASH_ALGORITHM = "sha256"

# Keys left out of the content hash: unsigned and signatures change in
# transit, and the hash cannot cover itself.
_NOT_IN_CONTENT_HASH = ("unsigned", "signatures", "hashes")
# Keys left out of the reference hash after redaction. age_ts is a key very
# old servers put at the top level; redaction already drops it, so listing
# it here only documents the spec's intent.
_NOT_IN_REFERENCE_HASH = ("signatures", "unsigned", "age_ts")


def compute_content_hash(event_dict: JsonDict) -> tuple[str, bytes]:
    """The (algorithm, digest) content hash of an event."""
    hashed = {key: value for key, value in event_dict.items() if key not in _NOT_IN_CONTENT_HASH}
    return CONTENT_HASH_ALGORITHM, hashlib.sha256(encode_canonical_json(hashed)).digest()


def add_content_hash(event_dict: JsonDict) -> JsonDict:
    """Set `hashes.sha256` on `event_dict` (in place) and return it."""
    algorithm, digest = compute_content_hash(event_dict)
    hashes = dict(event_dict.get("hashes") or {})
    hashes[algorithm] = encode_base64(digest)
    event_dict["hashes"] = hashes
    return event_dict


def check_content_hash(event_dict: JsonDict) -> bool:
    """Whether the event's `hashes.sha256` matches its content.

    A mismatch means the event must be handled in its redacted form; a
    missing or undecodable hash counts as a mismatch.
    """
    hashes: Any = event_dict.get("hashes")
    if not isinstance(hashes, dict) or not isinstance(hashes.get(CONTENT_HASH_ALGORITHM), str):
        return False
    try:
        claimed = decode_base64(hashes[CONTENT_HASH_ALGORITHM])
    except ValueError:  # binascii.Error: bad padding or length
        return False
    return claimed == compute_content_hash(event_dict)[1]


def compute_event_reference_hash(event_dict: JsonDict, room_version: RoomVersion) -> bytes:
    """The sha256 reference hash: redact, drop signatures and unsigned, hash."""
    redacted = prune_event_dict(room_version, event_dict)
    for key in _NOT_IN_REFERENCE_HASH:
        redacted.pop(key, None)
    return hashlib.sha256(encode_canonical_json(redacted)).digest()


def compute_event_id(event_dict: JsonDict, room_version: RoomVersion) -> str:
    """The event id of a v3+ event: '$' + unpadded base64 of its reference hash.

    Room v3 (EventFormat.V2) uses the standard alphabet, v4+ (V3) the
    URL-safe one. V1 ids are chosen by the sender, so asking is a bug.
    """
    if room_version.event_format == EventFormat.V1:
        raise ValueError(f"room version {room_version.identifier} event ids are not hash-derived")
    digest = compute_event_reference_hash(event_dict, room_version)
    return "$" + encode_base64(digest, urlsafe=room_version.event_format == EventFormat.V3)


def event_reference(event_dict: JsonDict, room_version: RoomVersion, event_id: str) -> list:
    """A V1-format `prev_events`/`auth_events` entry: [event_id, {"sha256": hash}]."""
    digest = compute_event_reference_hash(event_dict, room_version)
    return [event_id, {CONTENT_HASH_ALGORITHM: encode_base64(digest)}]
