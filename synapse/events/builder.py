"""Turning an event template into a complete, hashed and signed PDU.

The caller (the message handler) decides *what* the event says and which
events it follows from; this module fills in everything the room version
dictates about *how* it is written: reference format, depth cap, origin,
event id, content hash and this server's signature.
"""

import copy
import secrets
import string
from typing import Callable, Optional, Sequence

from signedjson.types import SigningKey

from synapse.events.hashing import add_content_hash, event_reference
from synapse.events.model import FrozenEvent, InternalMetadata, JsonDict
from synapse.events.room_versions import EventFormat, RoomVersion
from synapse.events.signing import compute_event_signature
from synapse.util.json import CANONICALJSON_MAX_INT

# Depth limits from the PDU schemas: 2^63-1 up to v5, 2^53-1 once
# canonical JSON is enforced (v6+). At the limit, depth stays at the limit.
_MAX_DEPTH_LEGACY = (2**63) - 1
_MAX_DEPTH_STRICT = CANONICALJSON_MAX_INT

# Keys the builder alone decides; whatever the template holds is replaced.
_BUILDER_KEYS = (
    "event_id",
    "prev_events",
    "auth_events",
    "depth",
    "origin",
    "origin_server_ts",
    "hashes",
    "signatures",
)

_LOCALPART_ALPHABET = string.ascii_letters


def random_event_localpart() -> str:
    """An 18-letter random localpart for a V1-format event id."""
    return "".join(secrets.choice(_LOCALPART_ALPHABET) for _ in range(18))


def _place_redacts(room_version: RoomVersion, event: JsonDict) -> None:
    """Put a redaction's target where this room version signs it.

    Clients may send `redacts` in content in every room version (CS API
    v1.18); v11+ keeps it only in content, older versions at the top level.
    """
    content = event.setdefault("content", {})
    if room_version.redacts_in_content:
        top = event.pop("redacts", None)
        if top is not None and "redacts" not in content:
            content["redacts"] = top
    elif "redacts" not in event and isinstance(content.get("redacts"), str):
        event["redacts"] = content["redacts"]


def build_event(
    room_version: RoomVersion,
    event_dict: JsonDict,
    prev_events: Sequence[FrozenEvent],
    auth_events: Sequence[FrozenEvent],
    depth: int,
    origin: str,
    signing_key: SigningKey,
    origin_server_ts: int,
    event_id_localpart_factory: Optional[Callable[[], str]] = None,
    internal_metadata: Optional[InternalMetadata] = None,
) -> FrozenEvent:
    """Build, hash and sign a new event originating on `origin`.

    `event_dict` holds type, sender, content, state_key (if state),
    room_id and, for redactions, redacts; it is not modified. Create
    events get no prev/auth events; a room v12 create event also has no
    room_id (its id names the room), and v12 events never cite the create
    event in auth_events (rooms/v12, auth rule 3.2), so it is dropped here.
    """
    event = copy.deepcopy(event_dict)
    for key in _BUILDER_KEYS:
        event.pop(key, None)
    event.setdefault("content", {})

    is_create = event.get("type") == "m.room.create"
    if is_create:
        prev_events, auth_events = (), ()
        if room_version.room_id_from_create_event:
            event.pop("room_id", None)
    elif room_version.room_id_from_create_event:
        auth_events = [e for e in auth_events if e.type != "m.room.create"]

    if event.get("type") == "m.room.redaction":
        _place_redacts(room_version, event)

    event["prev_events"] = _references(room_version, prev_events)
    event["auth_events"] = _references(room_version, auth_events)
    max_depth = _MAX_DEPTH_STRICT if room_version.strict_canonicaljson else _MAX_DEPTH_LEGACY
    event["depth"] = min(depth, max_depth)
    event["origin_server_ts"] = origin_server_ts
    # `origin` is protected by redaction (hence signed) only before v11.
    if not room_version.updated_redaction_rules:
        event["origin"] = origin
    if room_version.event_format == EventFormat.V1:
        localpart = (event_id_localpart_factory or random_event_localpart)()
        event["event_id"] = f"${localpart}:{origin}"

    add_content_hash(event)
    event["signatures"] = compute_event_signature(room_version, event, origin, signing_key)
    return FrozenEvent(event, room_version, internal_metadata)


def _references(room_version: RoomVersion, events: Sequence[FrozenEvent]) -> list:
    if room_version.event_format == EventFormat.V1:
        return [event_reference(e.get_pdu_json(), e.room_version, e.event_id) for e in events]
    return [e.event_id for e in events]
