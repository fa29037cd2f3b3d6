"""Relations between events (CS API "Forming relationships between events").

- GET /rooms/{roomId}/relations/{eventId}[/{relType}[/{eventType}]]: the
  events relating to one event, paged in topological order.
- GET /rooms/{roomId}/threads: thread roots, most recently active first.
- Bundled aggregations (`unsigned.m.relations`) for any list of events:
  `get_bundled_aggregations` gives them per event id and
  `apply_bundled_aggregations` puts them into serialized events; /messages,
  /context, event by id, /sync, /search and the endpoints here use them.

Aggregations follow the spec: `m.thread` (latest event, count, whether
the user took part), `m.replace` (the most recent valid edit: same sender
and type, not of a state event, not of an edit; not for redacted events)
and `m.reference` (the ids of referencing events). Events that are
themselves edits or annotations get none.
"""

from typing import TYPE_CHECKING, Any, Iterable, Optional

from synapse.api.errors import Codes, NotFoundError, SynapseError
from synapse.api.filtering import DEFAULT_FILTER_COLLECTION
from synapse.events.model import FrozenEvent
from synapse.storage.stores.relations import (
    ANNOTATION,
    MAX_RECURSION_DEPTH,
    REFERENCE,
    REPLACE,
    THREAD,
    relation_of,
)
from synapse.streams.tokens import RoomStreamToken
from synapse.types import Requester

if TYPE_CHECKING:
    from synapse.server import HomeServer

JsonDict = dict[str, Any]

DEFAULT_RELATIONS_LIMIT = 5
DEFAULT_THREADS_LIMIT = 10
MAX_LIMIT = 100


def apply_bundled_aggregations(serialized: Iterable[JsonDict], aggregations: dict[str, JsonDict]) -> None:
    """Puts each event's aggregations into its `unsigned.m.relations` (in place).

    Events serialized without `unsigned` (a filter's `event_fields` left it
    out) stay as they are."""
    if not aggregations:
        return
    for event in serialized:
        bundle = aggregations.get(event.get("event_id", ""))
        if bundle and isinstance(event.get("unsigned"), dict):
            event["unsigned"]["m.relations"] = bundle


def is_valid_edit(original: FrozenEvent, edit: FrozenEvent) -> bool:
    """The spec's validity rules for an `m.replace` of `original`."""
    if edit.sender != original.sender or edit.type != original.type:
        return False
    if original.is_state() or edit.is_state():
        return False
    original_relation = relation_of(original)
    if original_relation is not None and original_relation[0] == REPLACE:
        return False
    # an encrypted edit carries m.new_content inside its ciphertext
    return edit.type == "m.room.encrypted" or isinstance(edit.content.get("m.new_content"), dict)


class RelationsHandler:
    def __init__(self, hs: "HomeServer") -> None:
        self._hs = hs

    def _serialize(self, events: list[FrozenEvent], user_id: str, device_id: Optional[str] = None) -> list[JsonDict]:
        return DEFAULT_FILTER_COLLECTION.format_events(
            events, self._hs.clock.time_msec(), requester_user_id=user_id, requester_device_id=device_id
        )

    async def serialize_with_aggregations(self, requester: Requester, events: list[FrozenEvent]) -> list[JsonDict]:
        """Client events with their bundled aggregations."""
        serialized = self._serialize(events, requester.user_id, requester.device_id)
        apply_bundled_aggregations(serialized, await self.get_bundled_aggregations(events, requester.user_id))
        return serialized

    # -- bundled aggregations ----------------------------------------------------
    async def get_bundled_aggregations(
        self, events: Iterable[FrozenEvent], user_id: str, *, nested: bool = False
    ) -> dict[str, JsonDict]:
        """event id -> the `m.relations` object to bundle, for events that have any.

        A thread's latest event carries its own aggregations (`nested`: one
        level only). Latest events and edits the user may not see are left out."""
        parents = {}
        for event in events:
            relation = relation_of(event)
            if relation is None or relation[0] not in (REPLACE, ANNOTATION):
                parents[event.event_id] = event
        if not parents:
            return {}
        rows = await self._hs.stores.relations.get_aggregation_rows(list(parents), user_id)
        wanted = {latest for _, latest in rows.threads.values()}
        wanted.update(e for ids in rows.replacements.values() for e in ids)
        found = await self._hs.stores.events.get_events_as_list(wanted) if wanted else []
        visible = await self._hs.visibility.filter_events_for_client(user_id, found)
        children = {e.event_id: e for e in visible}
        latest_events = [children[latest] for _, latest in rows.threads.values() if latest in children]
        latest_bundles = {} if nested else await self.get_bundled_aggregations(latest_events, user_id, nested=True)

        result: dict[str, JsonDict] = {}
        for event_id, event in parents.items():
            bundle: JsonDict = {}
            thread = rows.threads.get(event_id)
            if thread is not None and thread[1] in children:
                count, latest_id = thread
                latest_json = self._serialize([children[latest_id]], user_id)
                apply_bundled_aggregations(latest_json, latest_bundles)
                bundle[THREAD] = {
                    "latest_event": latest_json[0],
                    "count": count,
                    "current_user_participated": event_id in rows.participated or event.sender == user_id,
                }
            if event_id in rows.replacements and "redacted_because" not in event.unsigned:
                edits = [children[e] for e in rows.replacements[event_id] if e in children]
                edits = [e for e in edits if is_valid_edit(event, e)]
                if edits:
                    latest = max(edits, key=lambda e: (e.origin_server_ts, e.event_id))
                    bundle[REPLACE] = self._serialize([latest], user_id)[0]
            if event_id in rows.references:
                bundle[REFERENCE] = {"chunk": [{"event_id": e} for e in rows.references[event_id]]}
            if bundle:
                result[event_id] = bundle
        return result

    # -- reading -----------------------------------------------------------------
    async def _visible_parent(self, user_id: str, room_id: str, event_id: str, is_peeking: bool) -> FrozenEvent:
        event = await self._hs.stores.events.get_event(event_id, allow_none=True)
        if event is None or event.room_id != room_id or event.internal_metadata.outlier:
            raise NotFoundError("Event not found")
        if not await self._hs.visibility.filter_events_for_client(user_id, [event], is_peeking):
            raise NotFoundError("Event not found")
        return event

    async def get_relations(
        self,
        requester: Requester,
        room_id: str,
        event_id: str,
        *,
        relation_type: Optional[str] = None,
        event_type: Optional[str] = None,
        from_token: Optional[str] = None,
        to_token: Optional[str] = None,
        direction: str = "b",
        limit: Optional[int] = None,
        recurse: bool = False,
    ) -> JsonDict:
        """GET /relations: 403 if the user may not read the room, 404 for an
        unknown or invisible parent event."""
        if direction not in ("b", "f"):
            raise SynapseError(400, "dir must be 'b' or 'f'", Codes.INVALID_PARAM)
        start = RoomStreamToken.parse(from_token) if from_token else None
        end = RoomStreamToken.parse(to_token) if to_token else None
        limit = DEFAULT_RELATIONS_LIMIT if limit is None else min(limit, MAX_LIMIT)
        user_id = requester.user_id
        access = await self._hs.visibility.check_can_read_room(room_id, user_id)
        await self._visible_parent(user_id, room_id, event_id, access.is_peeking)
        events, next_token = await self._hs.stores.relations.get_relations(
            room_id,
            event_id,
            relation_type=relation_type,
            event_type=event_type,
            from_token=start,
            to_token=end,
            direction=direction,
            limit=limit,
            recurse=recurse,
        )
        visible = await self._hs.visibility.filter_events_for_client(user_id, events, access.is_peeking)
        result: JsonDict = {"chunk": await self.serialize_with_aggregations(requester, visible)}
        if next_token is not None:
            result["next_batch"] = next_token.to_string()
        if from_token:
            result["prev_batch"] = from_token
        if recurse:
            result["recursion_depth"] = MAX_RECURSION_DEPTH
        return result

    async def get_threads(
        self,
        requester: Requester,
        room_id: str,
        *,
        include: str = "all",
        from_token: Optional[str] = None,
        limit: Optional[int] = None,
    ) -> JsonDict:
        """GET /threads: the room's thread roots, most recently active first."""
        if include not in ("all", "participated"):
            raise SynapseError(400, "include must be 'all' or 'participated'", Codes.INVALID_PARAM)
        before: Optional[int] = None
        if from_token:
            try:
                before = int(from_token)
            except ValueError:
                raise SynapseError(400, f"Invalid pagination token {from_token!r}", Codes.INVALID_PARAM) from None
        limit = DEFAULT_THREADS_LIMIT if limit is None else min(limit, MAX_LIMIT)
        user_id = requester.user_id
        access = await self._hs.visibility.check_can_read_room(room_id, user_id)
        rows, next_before = await self._hs.stores.relations.get_threads(
            room_id,
            participant=user_id if include == "participated" else None,
            before_stream=before,
            limit=limit,
        )
        roots = await self._hs.stores.events.get_events_as_list([thread_id for thread_id, _ in rows])
        roots = [r for r in roots if r.room_id == room_id]
        visible = await self._hs.visibility.filter_events_for_client(user_id, roots, access.is_peeking)
        result: JsonDict = {"chunk": await self.serialize_with_aggregations(requester, visible)}
        if next_before is not None:
            result["next_batch"] = str(next_before)
        return result
