"""Events as clients see them: the Client-Server `ClientEvent` format and its variants.

Clients never get the PDU: they get `ClientEvent` (CS API "Room event
format") with `unsigned.age` computed at serving time, the sending
device's `transaction_id` echoed back, a redaction's `redacts` in both
places (rooms/v11 "Event format"), and `unsigned.redacted_because` on
redacted events. Variants: without `room_id` (/sync timelines and state),
the legacy v1 layout (/events, /initialSync), stripped state (invites,
knocks), and the federation layout for filters asking `event_format:
federation`.
"""

from typing import Any, Iterable, Optional

from synapse.events.model import FrozenEvent, JsonDict
from synapse.events.room_versions import RoomVersion

# unsigned keys that are this server's bookkeeping, never shown as-is
_UNSIGNED_INTERNAL = ("age_ts", "redacted_because")
# keys the legacy v1 format also shows at the top level
_LEGACY_TOP_LEVEL = (
    "age",
    "redacted_because",
    "replaces_state",
    "prev_content",
    "invite_room_state",
    "knock_room_state",
)


def serialize_event(
    event: FrozenEvent,
    now_ms: int,
    *,
    as_client_event: bool = True,
    include_room_id: bool = True,
    requester_device_id: Optional[str] = None,
    requester_user_id: Optional[str] = None,
) -> JsonDict:
    """`event` in Client-Server format as of `now_ms`.

    `as_client_event=False` gives the federation layout (PDU plus event_id
    and unsigned). `include_room_id=False` is the /sync form. The
    transaction id is echoed only to the device that sent the event (and,
    when `requester_user_id` is given, only to its sender).
    """
    metadata = event.internal_metadata
    echo_txn = (
        requester_device_id is not None
        and metadata.txn_id is not None
        and metadata.device_id == requester_device_id
        and (requester_user_id is None or requester_user_id == event.sender)
    )
    return _serialize_dict(
        event.get_dict(),
        event.event_id,
        event.room_id,
        event.room_version,
        now_ms,
        as_client_event=as_client_event,
        include_room_id=include_room_id,
        txn_id=metadata.txn_id if echo_txn else None,
    )


def serialize_events(events: Iterable[FrozenEvent], now_ms: int, **kwargs: Any) -> list[JsonDict]:
    """serialize_event over many events with the same options."""
    return [serialize_event(event, now_ms, **kwargs) for event in events]


def _serialize_dict(
    event_dict: JsonDict,
    event_id: str,
    room_id: Optional[str],
    room_version: RoomVersion,
    now_ms: int,
    *,
    as_client_event: bool,
    include_room_id: bool,
    txn_id: Optional[str] = None,
) -> JsonDict:
    unsigned = _client_unsigned(event_dict, room_version, now_ms, as_client_event, include_room_id)
    if txn_id is not None:
        unsigned["transaction_id"] = txn_id

    if not as_client_event:
        federation = {key: value for key, value in event_dict.items() if key != "unsigned"}
        federation["event_id"] = event_id
        federation["unsigned"] = unsigned
        return federation

    content = dict(event_dict.get("content") or {})
    client: JsonDict = {
        "content": content,
        "event_id": event_id,
        "origin_server_ts": event_dict.get("origin_server_ts", 0),
        "sender": event_dict.get("sender"),
        "type": event_dict.get("type"),
        "unsigned": unsigned,
    }
    if include_room_id and room_id is not None:
        client["room_id"] = room_id
    if "state_key" in event_dict:
        client["state_key"] = event_dict["state_key"]
    if event_dict.get("type") == "m.room.redaction":
        # Old clients read the top-level key, new ones read content (v11).
        redacts = content.get("redacts") if room_version.redacts_in_content else event_dict.get("redacts")
        if isinstance(redacts, str):
            client["redacts"] = redacts
            content["redacts"] = redacts
    return client


def _client_unsigned(
    event_dict: JsonDict, room_version: RoomVersion, now_ms: int, as_client_event: bool, include_room_id: bool
) -> JsonDict:
    stored = event_dict.get("unsigned") or {}
    unsigned = {key: value for key, value in stored.items() if key not in _UNSIGNED_INTERNAL}
    sent_at = stored.get("age_ts", event_dict.get("origin_server_ts"))
    if isinstance(sent_at, int):
        unsigned["age"] = now_ms - sent_at
    because = stored.get("redacted_because")
    if isinstance(because, dict) and isinstance(because.get("event_id"), str):
        pdu = {key: value for key, value in because.items() if key != "event_id"}
        unsigned["redacted_because"] = _serialize_dict(
            pdu,
            because["event_id"],
            pdu.get("room_id"),
            room_version,
            now_ms,
            as_client_event=as_client_event,
            include_room_id=include_room_id,
        )
    return unsigned


def to_legacy_event_format(client_event: JsonDict) -> JsonDict:
    """The pre-r0 layout used by /events and /initialSync: `user_id`, and some unsigned keys on top."""
    legacy = dict(client_event)
    legacy["user_id"] = client_event.get("sender")
    unsigned = client_event.get("unsigned") or {}
    for key in _LEGACY_TOP_LEVEL:
        if key in unsigned:
            legacy[key] = unsigned[key]
    return legacy


def strip_event(event: FrozenEvent) -> JsonDict:
    """Stripped state (CS API): only type, state_key, content and sender."""
    return {
        "type": event.type,
        "state_key": event.state_key,
        "content": dict(event.content),
        "sender": event.sender,
    }
