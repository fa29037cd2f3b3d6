"""Read receipts and read markers: thin servlets over the receipts stream.

Receipts go through `hs.stream_writer("receipts")`; the fully-read marker
(`m.fully_read`, by either endpoint) is room account data written through
`hs.stream_writer("account_data")`.
"""

from typing import TYPE_CHECKING, Any

from twisted.web.server import Request

from synapse.api.errors import Codes, NotFoundError, SynapseError
from synapse.http.servlet import RestServlet, client_patterns, parse_json_object_from_request
from synapse.rest.client.typing import require_joined
from synapse.storage.stores.receipts import UNTHREADED
from synapse.streams.receipts import FULLY_READ, READ, READ_PRIVATE, RECEIPT_TYPES

if TYPE_CHECKING:
    from synapse.server import HomeServer

JsonDict = dict[str, Any]
MAIN_THREAD = "main"


def _thread_id(content: JsonDict, receipt_type: str) -> str:
    """The receipt's thread (UNTHREADED when absent); 400 M_INVALID_PARAM
    when malformed or given with the fully-read marker."""
    if "thread_id" not in content:
        return UNTHREADED
    thread_id = content["thread_id"]
    if not isinstance(thread_id, str) or not thread_id:
        raise SynapseError(400, "thread_id field must be a non-empty string", Codes.INVALID_PARAM)
    if receipt_type == FULLY_READ:
        raise SynapseError(400, f"thread_id is not allowed for {FULLY_READ}", Codes.INVALID_PARAM)
    if thread_id != MAIN_THREAD and not thread_id.startswith("$"):
        raise SynapseError(400, "thread_id must be 'main' or an event ID", Codes.INVALID_PARAM)
    return thread_id


async def _require_event_in_room(hs: "HomeServer", room_id: str, event_id: str) -> None:
    event = await hs.stores.events.get_event(event_id, allow_none=True)
    if event is None or event.room_id != room_id:
        raise NotFoundError(f"Event {event_id} not found in {room_id}")


async def _mark(hs: "HomeServer", room_id: str, user_id: str, marker: str, event_id: str, thread_id: str) -> None:
    hs.presence_handler.bump_active(user_id)
    if marker == FULLY_READ:
        await hs.stream_writer("account_data").set_account_data(
            user_id=user_id, data_type=FULLY_READ, content={"event_id": event_id}, room_id=room_id
        )
    else:
        await hs.stream_writer("receipts").set_receipt(
            room_id=room_id, receipt_type=marker, user_id=user_id, event_id=event_id, thread_id=thread_id
        )


class ReceiptServlet(RestServlet):
    """POST /rooms/{roomId}/receipt/{receiptType}/{eventId}"""

    PATTERNS = client_patterns("/rooms/{roomId}/receipt/{receiptType}/{eventId}")

    def __init__(self, hs: "HomeServer") -> None:
        self._hs = hs

    async def on_POST(self, request: Request, roomId: str, receiptType: str, eventId: str) -> tuple[int, JsonDict]:
        requester = await self._hs.auth.get_user_by_req(request)
        if receiptType not in (*RECEIPT_TYPES, FULLY_READ):
            raise SynapseError(400, f"Receipt type must be one of {[*RECEIPT_TYPES, FULLY_READ]}", Codes.INVALID_PARAM)
        content = parse_json_object_from_request(request, allow_empty_body=True)
        thread_id = _thread_id(content, receiptType)
        await require_joined(self._hs, roomId, requester.user_id)
        await _require_event_in_room(self._hs, roomId, eventId)
        await _mark(self._hs, roomId, requester.user_id, receiptType, eventId, thread_id)
        return 200, {}


class ReadMarkerServlet(RestServlet):
    """POST /rooms/{roomId}/read_markers"""

    PATTERNS = client_patterns("/rooms/{roomId}/read_markers")

    def __init__(self, hs: "HomeServer") -> None:
        self._hs = hs

    async def on_POST(self, request: Request, roomId: str) -> tuple[int, JsonDict]:
        requester = await self._hs.auth.get_user_by_req(request)
        content = parse_json_object_from_request(request)
        markers = {}
        for marker in (FULLY_READ, READ, READ_PRIVATE):
            event_id = content.get(marker)
            if event_id is None:
                continue
            if not isinstance(event_id, str) or not event_id.startswith("$"):
                raise SynapseError(400, f"{marker} must be an event ID", Codes.INVALID_PARAM)
            markers[marker] = event_id
        await require_joined(self._hs, roomId, requester.user_id)
        for event_id in set(markers.values()):
            await _require_event_in_room(self._hs, roomId, event_id)
        for marker, event_id in markers.items():
            await _mark(self._hs, roomId, requester.user_id, marker, event_id, UNTHREADED)
        return 200, {}
