"""GET /initialSync: the legacy snapshot of all the user's rooms (CS API, deprecated)."""

from typing import TYPE_CHECKING, Any

from twisted.web.server import Request

from synapse.http.servlet import RestServlet, client_patterns, parse_boolean, parse_integer
from synapse.rest.client.room_read import LEGACY_VERSIONS

if TYPE_CHECKING:
    from synapse.server import HomeServer

JsonDict = dict[str, Any]


class InitialSyncServlet(RestServlet):
    """GET /initialSync: rooms with recent messages and state, and an `end` token for /events."""

    PATTERNS = client_patterns("/initialSync", versions=LEGACY_VERSIONS)

    def __init__(self, hs: "HomeServer") -> None:
        self._hs = hs

    async def on_GET(self, request: Request) -> tuple[int, JsonDict]:
        requester = await self._hs.auth.get_user_by_req(request)
        limit = parse_integer(request, "limit", default=10) or 0
        archived = parse_boolean(request, "archived", default=False) or False
        return 200, await self._hs.initial_sync_handler.initial_sync(requester, limit, include_archived=archived)
