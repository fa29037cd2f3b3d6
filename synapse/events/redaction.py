"""The redaction algorithm: what of an event survives being redacted.

Redaction is not only for moderation: hashes, signatures and v3+ event ids
all cover the redacted form, so this must match every other server byte for
byte. The kept keys differ per room version; each difference reads a
`RoomVersion` flag (see the "Redactions" section of each rooms/vN spec).
"""

import copy
from typing import Any, Optional

import attrs

from synapse.events.model import FrozenEvent, JsonDict
from synapse.events.room_versions import RoomVersion

# Top-level keys every room version keeps.
_KEPT_TOP_LEVEL = frozenset(
    {
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
)
# Kept only before room version 11 (MSC2176 stopped protecting them).
_KEPT_TOP_LEVEL_BEFORE_V11 = frozenset({"prev_state", "origin", "membership"})

_POWER_LEVELS_KEPT = ("ban", "events", "events_default", "kick", "redact", "state_default", "users", "users_default")

# unsigned keys a server keeps on its own redacted copy: they describe the
# event's place in the room, not what the sender wrote.
_UNSIGNED_KEPT_ON_REDACTION = ("age_ts", "replaces_state")


def _kept_content_keys(room_version: RoomVersion, event_type: str) -> tuple[str, ...]:
    """Content keys protected from redaction for this event type (create: see caller)."""
    if event_type == "m.room.member":
        keys: tuple[str, ...] = ("membership",)
        if room_version.restricted_join_rule_fix:
            keys += ("join_authorised_via_users_server",)
        return keys
    if event_type == "m.room.create":
        return ("creator",)
    if event_type == "m.room.join_rules":
        return ("join_rule", "allow") if room_version.restricted_join_rule else ("join_rule",)
    if event_type == "m.room.power_levels":
        if room_version.updated_redaction_rules:
            return _POWER_LEVELS_KEPT + ("invite",)
        return _POWER_LEVELS_KEPT
    if event_type == "m.room.aliases" and room_version.special_case_aliases_auth:
        return ("aliases",)
    if event_type == "m.room.history_visibility":
        return ("history_visibility",)
    if event_type == "m.room.redaction" and room_version.updated_redaction_rules:
        return ("redacts",)
    return ()


def _prune_content(room_version: RoomVersion, event_type: Any, content: Any) -> JsonDict:
    if not isinstance(content, dict):
        return {}
    if event_type == "m.room.create" and room_version.updated_redaction_rules:
        return copy.deepcopy(content)
    pruned = {
        key: copy.deepcopy(content[key]) for key in _kept_content_keys(room_version, event_type) if key in content
    }
    # v11 (MSC3821): a redacted third-party invite keeps only its signed
    # block, which the auth rules need to re-check the invite.
    if event_type == "m.room.member" and room_version.updated_redaction_rules:
        invite = content.get("third_party_invite")
        if isinstance(invite, dict) and "signed" in invite:
            pruned["third_party_invite"] = {"signed": copy.deepcopy(invite["signed"])}
    return pruned


def prune_event_dict(room_version: RoomVersion, event_dict: JsonDict) -> JsonDict:
    """A new dict holding what the redaction algorithm keeps of `event_dict`.

    `unsigned` is dropped, as the algorithm says; the input is not modified.
    """
    kept = _KEPT_TOP_LEVEL if room_version.updated_redaction_rules else _KEPT_TOP_LEVEL | _KEPT_TOP_LEVEL_BEFORE_V11
    pruned = {key: copy.deepcopy(value) for key, value in event_dict.items() if key in kept and key != "content"}
    pruned["content"] = _prune_content(room_version, event_dict.get("type"), event_dict.get("content"))
    return pruned


def prune_event(event: FrozenEvent, redacted_because: Optional[FrozenEvent] = None) -> FrozenEvent:
    """The redacted copy of `event`, as this server stores and serves it.

    Keeps a copy of the internal metadata (stream position, txn id, ...) and
    the unsigned keys that are the server's own (`age_ts`,
    `replaces_state`). When the redaction is given, it is recorded in
    `unsigned.redacted_because` in federation format plus its `event_id`
    (v3+ ids are not part of the PDU), and in `internal_metadata.redacted_by`.
    """
    pruned = prune_event_dict(event.room_version, event.get_dict())
    unsigned = {key: event.unsigned[key] for key in _UNSIGNED_KEPT_ON_REDACTION if key in event.unsigned}
    metadata = attrs.evolve(event.internal_metadata)
    if redacted_because is not None:
        unsigned["redacted_because"] = {**redacted_because.get_pdu_json(), "event_id": redacted_because.event_id}
        metadata.redacted_by = redacted_because.event_id
    pruned["unsigned"] = unsigned
    return FrozenEvent(pruned, event.room_version, metadata)


def is_redacted(event: FrozenEvent) -> bool:
    """Whether this copy of the event has been redacted by this server."""
    return event.internal_metadata.redacted_by is not None or "redacted_because" in event.unsigned
