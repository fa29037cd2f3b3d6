"""POST /_synapse/replication/persist_event/{event_id}/{txn_id}

Asks the events writer that owns the event's room to persist it. The body
is the event as built and signed by the caller, with what the writer needs
and cannot recompute from the PDU: the room version, the internal metadata
(transaction id, device, token, outlier, rejection) and the `EventContext`
(the state before the event and the state group holding it). The answer
names the persisted event (another one when the writer already persisted
an event for the same transaction id), its stream position, its state
groups, and carries the written position so the caller waits until it can
read it (see synapse/replication/http/endpoint.py).
"""

from collections.abc import Mapping
from typing import Any

import attrs

from synapse.api.errors import Codes, SynapseError
from synapse.events.model import FrozenEvent, InternalMetadata, JsonDict
from synapse.events.room_versions import KNOWN_ROOM_VERSIONS
from synapse.events.snapshot import EventContext
from synapse.replication.http.endpoint import ReplicationEndpoint, ReplicationServer

# metadata set by the persister itself, never sent
_WRITER_METADATA = ("stream_ordering", "instance_name")


def serialize_persist_request(event: FrozenEvent, context: EventContext) -> JsonDict:
    metadata = {k: v for k, v in attrs.asdict(event.internal_metadata).items() if k not in _WRITER_METADATA}
    return {
        "event": event.get_dict(),
        "room_version": event.room_version.identifier,
        "internal_metadata": metadata,
        "context": {
            "state_ids_before": [[t, sk, eid] for (t, sk), eid in context.state_ids_before.items()],
            "state_group_before": context.state_group_before,
            "prev_group_hint": context.prev_group_hint,
            "push_actions": context.push_actions,
            "thread_id": context.thread_id,
        },
    }


def deserialize_persist_request(content: JsonDict) -> tuple[FrozenEvent, EventContext]:
    """The event and context of a request; 400 M_BAD_JSON when malformed."""
    try:
        room_version = KNOWN_ROOM_VERSIONS[content["room_version"]]
        fields = {f.name for f in attrs.fields(InternalMetadata)} - set(_WRITER_METADATA)
        metadata = InternalMetadata(**{k: v for k, v in content["internal_metadata"].items() if k in fields})
        event_dict = content["event"]
        if not isinstance(event_dict, dict):
            raise TypeError("event is not an object")
        event = FrozenEvent(event_dict, room_version, metadata)
        raw_context = content["context"]
        context = EventContext(
            state_ids_before={(t, sk): eid for t, sk, eid in raw_context["state_ids_before"]},
            state_group_before=_optional_int(raw_context.get("state_group_before")),
            prev_group_hint=_optional_int(raw_context.get("prev_group_hint")),
            push_actions=_push_actions(raw_context.get("push_actions", {})),
            thread_id=str(raw_context.get("thread_id", "main")),
        )
    except (KeyError, TypeError, ValueError) as e:
        raise SynapseError(400, f"Bad persist_event request: {e!r}", Codes.BAD_JSON)
    return event, context


def _optional_int(value: Any) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{value!r} is not an integer")
    return value


def _push_actions(value: Any) -> dict[str, list[Any]]:
    if not isinstance(value, dict) or not all(isinstance(a, list) for a in value.values()):
        raise TypeError("push_actions is not an object of lists")
    return {str(user): actions for user, actions in value.items()}


class ReplicationPersistEventEndpoint(ReplicationEndpoint):
    NAME = "persist_event"
    PATH_ARGS = ("event_id",)

    def __init__(self, server: ReplicationServer, persister: Any) -> None:
        super().__init__(server)
        self._persister = persister

    async def handle(self, content: JsonDict, **path_args: str) -> tuple[int, JsonDict, Mapping[str, int]]:
        event, context = deserialize_persist_request(content)
        if event.event_id != path_args["event_id"]:
            raise SynapseError(400, "The event's id does not match the request path", Codes.INVALID_PARAM)
        persisted, stream_ordering = await self._persister.persist_event(event, context)
        body = {
            "event_id": persisted.event_id,
            "stream_ordering": stream_ordering,
            "state_group_before": context.state_group_before,
            "state_group_after": context.state_group_after,
        }
        return 200, body, {"events": stream_ordering}
