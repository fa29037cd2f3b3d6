"""EventCreationHandler: turns what a local user asked for into a persisted event.

Order of work for one event: transaction-id idempotency, content
validation, rate limiting, then (one event per room at a time) read the
room's forward extremities and the state after them, pick auth events,
build and sign the event, check the room's authorization rules against the
state before it, evaluate the local members' push rules for it (results on
the EventContext), and hand it with its EventContext to the event persister.
"""

import logging
from typing import Any, Optional

from synapse.api.errors import AuthError, Codes, SynapseError
from synapse.api.ratelimiting import ratelimiter_from_settings
from synapse.events.auth import auth_types_for_event, check_auth_rules_for_event
from synapse.events.builder import build_event
from synapse.events.model import FrozenEvent, InternalMetadata, JsonDict
from synapse.events.power_levels import get_named_level, get_user_power_level
from synapse.events.room_versions import RoomVersion
from synapse.events.serialize import strip_event
from synapse.events.snapshot import EventContext
from synapse.events.validation import validate_client_content, validate_event_for_room_version
from synapse.types import Requester
from synapse.util.linearizer import KeyedLinearizer

logger = logging.getLogger(__name__)

# prev_events cited by a new event; more extremities stay for later events
MAX_PREV_EVENTS = 10
CREATE_KEY = ("m.room.create", "")
# state shown to invited/knocking users before they join (stripped state)
PREJOIN_STATE_TYPES = (
    "m.room.create",
    "m.room.join_rules",
    "m.room.canonical_alias",
    "m.room.avatar",
    "m.room.encryption",
    "m.room.name",
    "m.room.topic",
)


class EventCreationHandler:
    def __init__(self, hs: Any) -> None:
        self._hs = hs
        self._clock = hs.clock
        self._room_lock = KeyedLinearizer()
        self._message_limiter = ratelimiter_from_settings(hs.clock, hs.config.ratelimiting.rc_message)

    async def create_and_send_event(
        self,
        requester: Requester,
        event_dict: JsonDict,
        txn_id: Optional[str] = None,
        ratelimit: bool = True,
        *,
        room_version: Optional[RoomVersion] = None,
    ) -> FrozenEvent:
        """Builds, authorises and persists one event; returns it persisted.

        `event_dict` holds type, content, room_id (absent for a v12 create
        event), state_key for state events and redacts for redactions; the
        sender is the requester. A create event needs `room_version`. With
        `txn_id`, a repeat from the same user, device and room returns the
        event sent the first time.
        """
        stores = self._hs.stores
        event_dict = {**event_dict, "sender": requester.user_id}
        event_dict.setdefault("content", {})
        is_create = event_dict.get("type") == "m.room.create"
        room_id = event_dict.get("room_id")
        if is_create:
            if room_version is None:
                raise ValueError("a create event needs its room version")
        else:
            room_version = await stores.rooms.get_room_version(room_id)

        if txn_id is not None and room_id is not None:
            existing = await self._event_for_txn(requester, room_id, txn_id)
            if existing is not None:
                return existing
        if event_dict.get("type") == "m.room.redaction":
            _place_redacts(event_dict, room_version)
        validate_client_content(event_dict, room_version)
        if ratelimit:
            self._message_limiter.ratelimit(requester.user_id)

        async with self._room_lock.queue(room_id or object()):
            if txn_id is not None and room_id is not None:
                existing = await self._event_for_txn(requester, room_id, txn_id)
                if existing is not None:
                    return existing
            event, context = await self._build_and_check(requester, event_dict, room_version, txn_id)
            if context is not None:
                await self._hs.push_evaluator.compute(event, context)
                # another process may have sent this txn id first: its event wins
                event, _ = await self._hs.event_persister.persist_event(event, context)
        self._hs.presence_handler.bump_active(requester.user_id)
        return event

    async def _event_for_txn(self, requester: Requester, room_id: str, txn_id: str) -> Optional[FrozenEvent]:
        stores = self._hs.stores
        event_id = await stores.events.get_event_id_for_txn(room_id, requester.user_id, requester.device_id, txn_id)
        if event_id is None:
            return None
        return await stores.events.get_event(event_id)

    async def _build_and_check(
        self, requester: Requester, event_dict: JsonDict, room_version: RoomVersion, txn_id: Optional[str]
    ) -> tuple[FrozenEvent, Optional[EventContext]]:
        """The event to persist and its context; or, when the event would
        repeat the current state event of its key (same sender and content),
        that event and no context: nothing new is sent."""
        stores = self._hs.stores
        is_create = event_dict["type"] == "m.room.create"
        prev_ids: list[str] = []
        if not is_create:
            prev_ids = (await stores.events.get_forward_extremities(event_dict["room_id"]))[:MAX_PREV_EVENTS]
        context = await self._hs.state_handler.compute_context_for_new_event(room_version, prev_ids)
        state_before = context.state_ids_before
        prev_map = await stores.events.get_unredacted_events(prev_ids)
        prev_events = [prev_map[e] for e in prev_ids if e in prev_map]
        depth = max((e.depth for e in prev_events), default=0) + 1

        template = FrozenEvent(event_dict, room_version)
        needed = set(auth_types_for_event(room_version, template)) | {CREATE_KEY}
        state_key = event_dict.get("state_key")
        if state_key is not None:
            needed.add((event_dict["type"], state_key))
        if template.type == "m.room.member" and template.membership in ("invite", "knock"):
            needed.update((t, "") for t in PREJOIN_STATE_TYPES)
        wanted_ids = {state_before[key] for key in needed if key in state_before}
        # the auth rules judge events as sent; what users are shown is redacted
        state_events = await stores.events.get_unredacted_events(wanted_ids)
        shown_events = await stores.events.get_events(wanted_ids)
        auth_map = _by_key(state_before, needed, state_events)
        shown_map = _by_key(state_before, needed, shown_events)

        event_dict = dict(event_dict)
        event_dict["unsigned"] = self._unsigned_for(template, shown_map)
        auth_keys = auth_types_for_event(room_version, template)
        auth_events = [auth_map[key] for key in sorted(auth_keys) if key in auth_map]
        metadata = InternalMetadata(
            txn_id=txn_id, device_id=requester.device_id if txn_id else None, token_id=requester.access_token_id
        )
        event = build_event(
            room_version,
            event_dict,
            prev_events,
            auth_events,
            depth,
            self._hs.hostname,
            self._hs.signing_key,
            self._clock.time_msec(),
            internal_metadata=metadata,
        )
        validate_event_for_room_version(event.get_pdu_json(), room_version)
        check_auth_rules_for_event(event, auth_map, auth_map.get(CREATE_KEY))
        if event.type == "m.room.redaction":
            await self._check_redaction(event, auth_map)
        if event.is_state():
            current = shown_map.get((event.type, event.state_key))  # type: ignore[arg-type]
            if current is not None and current.sender == event.sender and current.content == event.content:
                return current, None
        return event, context

    def _unsigned_for(self, template: FrozenEvent, state: dict) -> JsonDict:
        """Server-added unsigned data: what a state event replaces, and the
        stripped room state an invited or knocking user gets to see."""
        unsigned: JsonDict = {}
        if template.is_state():
            replaced = state.get((template.type, template.state_key))
            if replaced is not None:
                unsigned["replaces_state"] = replaced.event_id
                unsigned["prev_content"] = replaced.content
                unsigned["prev_sender"] = replaced.sender
        if template.type == "m.room.member" and template.membership in ("invite", "knock"):
            stripped = [strip_event(state[(t, "")]) for t in PREJOIN_STATE_TYPES if (t, "") in state]
            sender_member = state.get(("m.room.member", template.sender))
            if sender_member is not None:
                stripped.append(strip_event(sender_member))
            unsigned["invite_room_state" if template.membership == "invite" else "knock_room_state"] = stripped
        return unsigned

    async def _check_redaction(self, event: FrozenEvent, auth_map: dict) -> None:
        """Local rule on top of the auth rules: you may redact your own events,
        or anyone's with the room's redact power level."""
        stores = self._hs.stores
        target = await stores.events.get_unredacted_events([event.redacts])
        original = target.get(event.redacts)  # type: ignore[arg-type]
        if original is not None and original.room_id != event.room_id:
            raise SynapseError(400, "Cannot redact an event from another room", Codes.INVALID_PARAM)
        if original is not None and original.sender == event.sender:
            return
        level = get_user_power_level(event.sender, auth_map, auth_map.get(CREATE_KEY))
        if level < get_named_level(auth_map, "redact", 50):
            raise AuthError(403, "You don't have permission to redact this event")


def _by_key(state_ids: dict, keys: set, events: dict[str, FrozenEvent]) -> dict:
    """(type, state_key) -> event, for the wanted keys present in the state."""
    return {key: events[state_ids[key]] for key in keys if key in state_ids and state_ids[key] in events}


def _place_redacts(event_dict: JsonDict, room_version: RoomVersion) -> None:
    """Puts a redaction's target where the room version keeps it (v11+: in
    content), whichever of the two places the client used."""
    content = dict(event_dict["content"])
    redacts = event_dict.get("redacts", content.get("redacts"))
    if room_version.redacts_in_content:
        event_dict.pop("redacts", None)
        if redacts is not None:
            content["redacts"] = redacts
    elif redacts is not None:
        event_dict["redacts"] = redacts
    event_dict["content"] = content
