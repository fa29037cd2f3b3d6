"""Legacy event streaming: GET /events and GET /events/{eventId} (CS API, deprecated)."""

from typing import TYPE_CHECKING, Any

from twisted.web.server import Request

from synapse.http.servlet import RestServlet, client_patterns, parse_integer, parse_string
from synapse.rest.client.room_read import LEGACY_VERSIONS

if TYPE_CHECKING:
    from synapse.server import HomeServer

JsonDict = dict[str, Any]

MAX_TIMEOUT_MS = 5 * 60 * 1000


class EventStreamServlet(RestServlet):
    """GET /events: events in the user's rooms after `from`, long-polling up to `timeout` ms."""

    PATTERNS = client_patterns("/events", versions=LEGACY_VERSIONS)

    def __init__(self, hs: "HomeServer") -> None:
        self._hs = hs

    async def on_GET(self, request: Request) -> tuple[int, JsonDict]:
        requester = await self._hs.auth.get_user_by_req(request, allow_guest=True)
        from_token = parse_string(request, "from")
        timeout = parse_integer(request, "timeout", default=30000) or 0
        room_id = parse_string(request, "room_id")
        result = await self._hs.event_stream_handler.get_stream(
            requester, from_token, min(timeout, MAX_TIMEOUT_MS), room_id=room_id
        )
        return 200, result


class EventServlet(RestServlet):
    """GET /events/{eventId}: one event, if the user may see it."""

    PATTERNS = client_patterns("/events/{eventId}", versions=LEGACY_VERSIONS)

    def __init__(self, hs: "HomeServer") -> None:
        self._hs = hs

    async def on_GET(self, request: Request, eventId: str) -> tuple[int, JsonDict]:
        requester = await self._hs.auth.get_user_by_req(request)
        return 200, await self._hs.event_stream_handler.get_event(requester, eventId)
