"""The event model: an immutable PDU plus the server's own metadata about it.

`FrozenEvent` wraps the JSON a server signs and sends (the PDU). What this
server knows about the event but never sends (its stream position, the
transaction id of the request that sent it, whether it was rejected) lives in
`InternalMetadata`, kept apart so that it can never leak into the signed
JSON.
"""

from typing import Any, Optional

import attrs

from synapse.events.room_versions import EventFormat, RoomVersion

JsonDict = dict[str, Any]


@attrs.define
class InternalMetadata:
    """What this server knows about an event that is not part of the PDU."""

    outlier: bool = False
    # set on locally sent events: who sent it from where, for txnId echo
    txn_id: Optional[str] = None
    device_id: Optional[str] = None
    token_id: Optional[int] = None
    # set once persisted
    stream_ordering: Optional[int] = None
    instance_name: Optional[str] = None
    rejected_reason: Optional[str] = None
    redacted_by: Optional[str] = None


class FrozenEvent:
    """An event as received or built, with typed accessors over its JSON.

    The event id of room versions 3+ is the reference hash of the redacted
    event, so it is computed on first use and cached.
    """

    __slots__ = ("_dict", "room_version", "internal_metadata", "_event_id")

    def __init__(
        self,
        event_dict: JsonDict,
        room_version: RoomVersion,
        internal_metadata: Optional[InternalMetadata] = None,
        event_id: Optional[str] = None,
    ) -> None:
        """`event_id` may be passed when already known (e.g. read from the
        database) to skip recomputing the reference hash."""
        self._dict = dict(event_dict)
        self.room_version = room_version
        self.internal_metadata = internal_metadata or InternalMetadata()
        self._event_id: Optional[str] = event_id

    # -- identity ---------------------------------------------------------
    @property
    def event_id(self) -> str:
        if self._event_id is None:
            if self.room_version.event_format == EventFormat.V1:
                self._event_id = self._dict["event_id"]
            else:
                from synapse.events.hashing import compute_event_id

                self._event_id = compute_event_id(self._dict, self.room_version)
        return self._event_id

    @property
    def room_id(self) -> str:
        """The room id; a v12 create event carries none and names the room itself."""
        room_id = self._dict.get("room_id")
        if room_id is None and self.type == "m.room.create" and self.room_version.room_id_from_create_event:
            return "!" + self.event_id[1:]
        return room_id

    # -- fields -----------------------------------------------------------
    @property
    def type(self) -> str:
        return self._dict["type"]

    @property
    def sender(self) -> str:
        return self._dict["sender"]

    @property
    def content(self) -> JsonDict:
        return self._dict.get("content", {})

    @property
    def state_key(self) -> Optional[str]:
        return self._dict.get("state_key")

    @property
    def depth(self) -> int:
        return self._dict.get("depth", 0)

    @property
    def origin_server_ts(self) -> int:
        return self._dict.get("origin_server_ts", 0)

    @property
    def hashes(self) -> JsonDict:
        return self._dict.get("hashes", {})

    @property
    def signatures(self) -> JsonDict:
        return self._dict.get("signatures", {})

    @property
    def unsigned(self) -> JsonDict:
        return self._dict.setdefault("unsigned", {})

    @property
    def membership(self) -> Optional[str]:
        return self.content.get("membership")

    @property
    def redacts(self) -> Optional[str]:
        """The redacted event's id, wherever this room version keeps it."""
        if self.type != "m.room.redaction":
            return None
        if self.room_version.redacts_in_content:
            return self.content.get("redacts") or self._dict.get("redacts")
        return self._dict.get("redacts")

    def is_state(self) -> bool:
        return "state_key" in self._dict

    def prev_event_ids(self) -> list[str]:
        return _event_refs(self._dict.get("prev_events", []), self.room_version)

    def auth_event_ids(self) -> list[str]:
        return _event_refs(self._dict.get("auth_events", []), self.room_version)

    def get(self, key: str, default: Any = None) -> Any:
        return self._dict.get(key, default)

    # -- serialisation ----------------------------------------------------
    def get_pdu_json(self) -> JsonDict:
        """The event as signed and sent over federation (no unsigned age data)."""
        pdu = dict(self._dict)
        pdu.pop("unsigned", None)
        return pdu

    def get_dict(self) -> JsonDict:
        """A shallow copy of the full event JSON, including unsigned."""
        return dict(self._dict)

    def __repr__(self) -> str:
        return f"<FrozenEvent {self.event_id} {self.type} state_key={self.state_key!r}>"


def _event_refs(refs: list, room_version: RoomVersion) -> list[str]:
    """Event ids from a prev_events/auth_events list: [id, hashes] pairs in v1/v2."""
    if room_version.event_format == EventFormat.V1:
        return [ref[0] for ref in refs]
    return list(refs)
